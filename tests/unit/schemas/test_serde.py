"""Serde selection. No Schema Registry runs in the dev stack, so registry mode is checked for wiring only."""

from __future__ import annotations

from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

from schemas.codec import decode
from schemas.records import RECORD_TYPES, BehaviorEvent
from schemas.serde import RegistrySerde, SingleObjectSerde, make_serde

EVENT = BehaviorEvent(event_id="e", user_id="u", type="view", event_time_ms=1_511_658_000_000)


def test_no_registry_means_single_object_encoding() -> None:
    serde = make_serde(None)
    assert isinstance(serde, SingleObjectSerde)
    data = serde.encode(EVENT, "behavior.events")
    assert decode(data) == EVENT
    assert serde.decode(data, "behavior.events", BehaviorEvent) == EVENT
    assert isinstance(make_serde(""), SingleObjectSerde)


def test_registry_url_selects_confluent_serdes() -> None:
    serde = make_serde("http://127.0.0.1:1", {"basic.auth.user.info": "user:secret"})
    assert isinstance(serde, RegistrySerde)
    assert set(serde.serializers) == set(RECORD_TYPES)
    assert all(isinstance(s, AvroSerializer) for s in serde.serializers.values())
    assert all(isinstance(d, AvroDeserializer) for d in serde.deserializers.values())
