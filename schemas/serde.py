"""Topic-aware record serdes: single-object encoding by default, Confluent wire format with a registry."""

from __future__ import annotations

import json
from typing import Any, Protocol, TypeVar

from schemas.codec import Codec, default_codec
from schemas.errors import DecodeError, EncodeError

T = TypeVar("T")


class Serde(Protocol):
    """Encode/decode records for a topic."""

    def encode(self, record: Any, topic: str) -> bytes: ...

    def decode(self, data: bytes, topic: str, expected: type[T]) -> T: ...


class SingleObjectSerde:
    """Avro single-object encoding: self-describing records, no registry needed."""

    def __init__(self, codec: Codec | None = None) -> None:
        self.codec = codec or default_codec()

    def encode(self, record: Any, topic: str) -> bytes:
        return self.codec.encode(record)

    def decode(self, data: bytes, topic: str, expected: type[T]) -> T:
        return self.codec.decode(data, expected)


class RegistrySerde:
    """Confluent wire format through confluent-kafka's own AvroSerializer/AvroDeserializer.

    The registry is contacted lazily, on the first encode/decode of each subject; the unit tests
    only check that this mode is selected and wired, since no registry runs in the dev stack.
    """

    def __init__(self, url: str, codec: Codec | None = None, client_config: dict[str, Any] | None = None) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient
        from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

        self.codec = codec or default_codec()
        self.client = SchemaRegistryClient({"url": url, **(client_config or {})})
        codec_ = self.codec
        self.serializers = {
            cls: AvroSerializer(self.client, json.dumps(schema), lambda record, _ctx: codec_.to_dict(record))
            for cls, schema in self.codec.schemas.items()
        }
        self.deserializers = {
            cls: AvroDeserializer(
                self.client, json.dumps(schema), lambda data, _ctx, cls=cls: codec_.from_dict(cls, data)
            )
            for cls, schema in self.codec.schemas.items()
        }

    def encode(self, record: Any, topic: str) -> bytes:
        from confluent_kafka.serialization import MessageField, SerializationContext

        try:
            serializer = self.serializers[type(record)]
        except KeyError:
            raise EncodeError(f"{type(record).__name__} is not a contract record") from None
        data = serializer(record, SerializationContext(topic, MessageField.VALUE))
        if data is None:
            raise EncodeError(f"{type(record).__name__}: the registry serializer returned nothing")
        return bytes(data)

    def decode(self, data: bytes, topic: str, expected: type[T]) -> T:
        from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

        try:
            record = self.deserializers[expected](data, SerializationContext(topic, MessageField.VALUE))
        except SerializationError as exc:
            raise DecodeError(f"{expected.__name__} from registry wire format: {exc}") from exc
        if not isinstance(record, expected):
            raise DecodeError(f"expected {expected.__name__}, got {type(record).__name__}")
        return record


def make_serde(registry_url: str | None, client_config: dict[str, Any] | None = None) -> Serde:
    """The registry serde when a Schema Registry URL is configured, else single-object encoding."""
    if registry_url:
        return RegistrySerde(registry_url, client_config=client_config)
    return SingleObjectSerde()
