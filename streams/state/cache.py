"""A least-recently-used cache of decoded records bounded by an estimate of the memory they take."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

# A decoded record (dicts, lists, ints) takes several times its encoded bytes in Python objects; measured
# on the bench's states with tracemalloc: 4-7x. The bound is an estimate, not an accounting.
DECODED_PER_ENCODED_BYTE = 6
ENTRY_OVERHEAD = 200  # the key, the OrderedDict slot, the record object


class RecordCache:
    """Decoded records by key, least recently used first out once the estimate passes `max_bytes`."""

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

    def put(self, key: Any, value: Any, encoded_bytes: int) -> None:
        size = ENTRY_OVERHEAD + encoded_bytes * DECODED_PER_ENCODED_BYTE
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
