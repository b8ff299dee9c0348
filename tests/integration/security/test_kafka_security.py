"""Kafka TLS/SASL settings reach every client: the Faust app, the delivery worker's aiokafka, librdkafka."""

from __future__ import annotations

import ssl

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Producer

from streams.cli import build
from streams.commands.kafka_security import aiokafka_options, faust_credentials, librdkafka_config
from streams.settings import Settings

SECRET = "kafka-pass-7731"


def sasl_ssl() -> Settings:
    return Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="nudge",
        kafka_sasl_password=SECRET,
    )


def test_plaintext_is_the_default_everywhere() -> None:
    settings = Settings()
    assert faust_credentials(settings) is None
    assert aiokafka_options(settings) == {"security_protocol": "PLAINTEXT"}


async def test_sasl_ssl_reaches_the_faust_app_and_aiokafka() -> None:
    settings = sasl_ssl()
    app = build(settings)
    creds = app.conf.broker_credentials
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value) == ("nudge", SECRET, "SCRAM-SHA-512")
    assert isinstance(creds.ssl_context, ssl.SSLContext) and creds.protocol.value == "SASL_SSL"
    assert SECRET not in repr(creds)
    options = aiokafka_options(settings)
    assert options["sasl_plain_password"] == SECRET and options["security_protocol"] == "SASL_SSL"
    # The clients accept the combination (they validate it in their constructors, before any connection).
    consumer = AIOKafkaConsumer("t", bootstrap_servers="127.0.0.1:1", **options)
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **options)
    assert consumer._client._sasl_mechanism == producer.client._sasl_mechanism == "SCRAM-SHA-512"
    assert consumer._client._ssl_context is options["ssl_context"]
    rd = librdkafka_config(settings)
    assert (rd["security.protocol"], rd["sasl.mechanism"], rd["sasl.password"]) == ("SASL_SSL", "SCRAM-SHA-512", SECRET)


def test_ssl_only_uses_an_ssl_context_with_the_configured_ca(tmp_path) -> None:
    settings = Settings(kafka_security_protocol="SSL")
    assert isinstance(faust_credentials(settings), faust.SSLCredentials)
    options = aiokafka_options(settings)
    assert options["security_protocol"] == "SSL" and isinstance(options["ssl_context"], ssl.SSLContext)
    assert "sasl_plain_password" not in options


def test_secrets_stay_out_of_the_settings_repr() -> None:
    text = repr(sasl_ssl()) + str(sasl_ssl().model_dump())
    assert SECRET not in text


@pytest.mark.parametrize(
    ("protocol", "mechanism", "expected"),
    [
        ("PLAINTEXT", "SCRAM-SHA-256", None),  # a mechanism without SASL is ignored by every client
        ("SSL", None, None),
        ("SASL_PLAINTEXT", None, "PLAIN"),  # librdkafka alone used to fall back to its own default, GSSAPI
        ("SASL_SSL", "SCRAM-SHA-256", "SCRAM-SHA-256"),
    ],
)
def test_the_three_clients_get_the_same_protocol_mechanism_and_credentials(
    protocol: str, mechanism: str | None, expected: str | None, tmp_path
) -> None:
    settings = Settings(kafka_security_protocol=protocol, kafka_sasl_mechanism=mechanism, kafka_sasl_username="nudge",
                        kafka_sasl_password=SECRET)  # fmt: skip
    creds, options, rd = faust_credentials(settings), aiokafka_options(settings), librdkafka_config(settings)
    assert options["security_protocol"] == rd["security.protocol"] == protocol
    assert options.get("sasl_mechanism") == rd.get("sasl.mechanism") == expected
    assert options.get("sasl_plain_password") == rd.get("sasl.password") == (expected and SECRET)
    if expected is None:
        assert creds is None or isinstance(creds, faust.SSLCredentials)
    else:
        assert (creds.mechanism.value, creds.username, creds.password) == (expected, "nudge", SECRET)
    Producer({**rd, "bootstrap.servers": "127.0.0.1:1"})  # librdkafka accepts the combination at construction
