"""A least-recently-used cache of decoded records bounded by an estimate of the memory they take."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

ENTRY_OVERHEAD = 200  # the key tuple, the OrderedDict slot and the (value, size) pair of one entry


class RecordCache:
    """Decoded records by key, least recently used first out once their estimated size passes `max_bytes`.

    The caller says what a record takes in memory (`put`'s `size`): the cache adds its own entry's overhead."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._entries: OrderedDict[Any, tuple[Any, int]] = OrderedDict()

    def get(self, key: Any) -> Any:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: Any, value: Any, size: int) -> None:
        """Keep `value`, which takes about `size` bytes of Python objects."""
        size += ENTRY_OVERHEAD
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (value, size)
        self.bytes += size
        entries = self._entries
        while self.bytes > self.max_bytes and len(entries) > 1:
            _, (_, dropped) = entries.popitem(last=False)
            self.bytes -= dropped
            self.evictions += 1

    def drop(self, key: Any) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]

    def drop_where(self, keep: Any) -> None:
        """Drop every entry whose key `keep(key)` rejects (a revoked partition's)."""
        for key in [k for k in self._entries if not keep(k)]:
            self.drop(key)

    def __len__(self) -> int:
        return len(self._entries)
