"""Which partition a key lands in, as librdkafka's default partitioner (crc32 of the key) picks it."""

from __future__ import annotations

import itertools
import zlib


def partition_of(key: str, partitions: int) -> int:
    """The partition librdkafka's default (`consistent_random`) partitioner gives a non-empty key."""
    return zlib.crc32(key.encode()) % partitions


def key_per_partition(prefix: str, partitions: int) -> list[str]:
    """The first key `<prefix><i>` that lands in each partition, in partition order."""
    found: dict[int, str] = {}
    for i in itertools.count():
        if len(found) == partitions:
            return [found[p] for p in range(partitions)]
        found.setdefault(partition_of(f"{prefix}{i}", partitions), f"{prefix}{i}")
    raise AssertionError("unreachable")
