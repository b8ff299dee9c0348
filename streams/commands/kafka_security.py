"""Kafka TLS/SASL from settings, in one place, for each client library: Faust, aiokafka and librdkafka."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import faust

from streams.settings import Settings


@dataclass(frozen=True)
class KafkaSecurity:
    """The TLS/SASL settings with the defaults every client gets alike (SASL without a mechanism is PLAIN)."""

    protocol: str
    mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None

    @classmethod
    def of(cls, settings: Settings) -> KafkaSecurity:
        sasl = settings.kafka_security_protocol.startswith("SASL")
        return cls(
            protocol=settings.kafka_security_protocol,
            mechanism=(settings.kafka_sasl_mechanism or "PLAIN") if sasl else None,
            username=settings.kafka_sasl_username if sasl else None,
            password=settings.kafka_sasl_password.get_secret_value() if sasl and settings.kafka_sasl_password else None,
            cafile=settings.kafka_ssl_cafile,
        )

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS context for the Python clients; system CAs when no file is given."""
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.cafile)


def faust_credentials(settings: Settings) -> Any:
    """The Faust app's broker_credentials: None (PLAINTEXT), an SSL context, or SASL credentials."""
    sec = KafkaSecurity.of(settings)
    context = sec.ssl_context()
    if sec.mechanism is not None:
        return faust.SASLCredentials(
            username=sec.username, password=sec.password, ssl_context=context, mechanism=sec.mechanism
        )
    return None if context is None else faust.SSLCredentials(context)


def aiokafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaConsumer/AIOKafkaProducer (the delivery worker)."""
    sec = KafkaSecurity.of(settings)
    options: dict[str, Any] = {"security_protocol": sec.protocol}
    context = sec.ssl_context()
    if context is not None:
        options["ssl_context"] = context
    if sec.mechanism is not None:
        options["sasl_mechanism"] = sec.mechanism
        options["sasl_plain_username"] = sec.username
        if sec.password:
            options["sasl_plain_password"] = sec.password
    return options


def librdkafka_config(settings: Settings) -> dict[str, Any]:
    """librdkafka (confluent-kafka) settings: the producer SDK, admin, tail, explain and report."""
    sec = KafkaSecurity.of(settings)
    config: dict[str, Any] = {"security.protocol": sec.protocol}
    if sec.mechanism is not None:
        config["sasl.mechanism"] = sec.mechanism
        if sec.username:
            config["sasl.username"] = sec.username
        if sec.password:
            config["sasl.password"] = sec.password
    if sec.tls and sec.cafile:  # without one librdkafka, like the Python clients, trusts the system CAs
        config["ssl.ca.location"] = sec.cafile
    return config
