"""Re-keyed records packed per destination partition: one produce per partition and batch, not one per record."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from schemas.kafka_batches import default_partition

MAGIC = b"\x00NPK1"  # a single Avro record starts with 0xC3 0x01: the two never collide
CHUNK_BYTES = 200_000  # under the producer's batch (256 KiB) and the broker's 1 MB message limit
_HEAD = struct.Struct(">BHI")  # tag, key length, value length
_CACHE_MAX = 1_000_000  # keys remembered by a partitioner before it starts over


class KeyPartitioner:
    """The partition Kafka's default partitioner (murmur2, as aiokafka and Java) gives a key, memoised."""

    __slots__ = ("cache", "partitions")

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.cache: dict[str, int] = {}

    def __call__(self, key: str) -> int:
        partition = self.cache.get(key)
        if partition is None:
            if len(self.cache) >= _CACHE_MAX:
                self.cache.clear()
            partition = self.cache[key] = default_partition(key.encode(), self.partitions)
        return partition


def pack_entries(entries: Iterable[tuple[int, bytes, bytes]], chunk_bytes: int = CHUNK_BYTES) -> list[bytes]:
    """(tag, key, value) entries after MAGIC, split so no message grows past `chunk_bytes` (one entry may).

    The tag (0-255) and key are the caller's: a reader can skip a value without decoding it.
    """
    out: list[bytes] = []
    parts: list[bytes] = [MAGIC]
    size = len(MAGIC)
    head = _HEAD.pack
    for tag, key, value in entries:
        grown = _HEAD.size + len(key) + len(value)
        if size + grown > chunk_bytes and len(parts) > 1:
            out.append(b"".join(parts))
            parts, size = [MAGIC], len(MAGIC)
        parts.append(head(tag, len(key), len(value)))
        parts.append(key)
        parts.append(value)
        size += grown
    if len(parts) > 1:
        out.append(b"".join(parts))
    return out


def unpack_entries(message: bytes, key: bytes | None = None) -> list[tuple[int, bytes, bytes]]:
    """The (tag, key, value) entries of a packed message; any other message is one entry (tag 0, `key`)."""
    if not message.startswith(MAGIC):
        return [(0, key or b"", message)]
    entries = []
    pos, end = len(MAGIC), len(message)
    head, head_size = _HEAD.unpack_from, _HEAD.size
    while pos < end:
        tag, key_len, value_len = head(message, pos)
        pos += head_size
        key_end = pos + key_len
        pos = key_end + value_len
        entries.append((tag, message[key_end - key_len : key_end], message[key_end:pos]))
    if pos != end:
        raise ValueError(f"truncated packed message: {end} bytes, entry ends at {pos}")
    return entries
