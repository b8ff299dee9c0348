"""Wiring of the ingestion commands from settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from schemas.records import BehaviorEvent, DeadLetter, JobRetry
from schemas.serde import RegistrySerde, SingleObjectSerde
from streams.commands.ingest import TOPIC_TYPES, api_keys, make_publisher
from streams.commands.kafka_security import librdkafka_config
from streams.settings import Settings


def test_api_keys_are_split_and_required() -> None:
    assert api_keys(Settings(collector_api_keys=SecretStr(" a1, b2 ,,"))) == ["a1", "b2"]
    with pytest.raises(SystemExit, match="NUDGE_COLLECTOR_API_KEYS"):
        api_keys(Settings())


def test_publisher_follows_settings() -> None:
    settings = Settings(
        topic_prefix="stage.",
        ingest_compression="lz4",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="svc",
        kafka_sasl_password=SecretStr("pw"),
    )
    publisher = make_publisher(settings)
    assert publisher.topic_for(BehaviorEvent) == "stage.behavior.events"
    assert publisher.config["compression.type"] == "lz4" and publisher.config["enable.idempotence"] is True
    assert publisher.config["sasl.password"] == "pw"
    assert isinstance(publisher.serde, SingleObjectSerde)
    assert isinstance(make_publisher(Settings(schema_registry_url="http://127.0.0.1:1")).serde, RegistrySerde)
    assert librdkafka_config(Settings()) == {"security.protocol": "PLAINTEXT"}


def test_topic_types() -> None:
    assert TOPIC_TYPES["notifications.jobs.dlq"] is JobRetry and DeadLetter not in TOPIC_TYPES.values()
