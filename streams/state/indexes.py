"""The timer and fan-out indexes of a partition: ordered keys in its store plus the changes since the checkpoint.

Both keep the store's entries as the last checkpoint wrote them and the changes made since in memory (a heap of
new dues, a map of new fans); entries are checked against the user's current record before use, so an entry
the memory has moved past is skipped, never acted on. A tick costs O(entries due), whatever the user count.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable

from streams.state.db import PartitionDB, Write
from streams.state.keys import due_key, fan_prefix, parse_due, prefix_end

_UNKNOWN = object()


class DueIndex:
    """Users ordered by one kind of due time; `pop(upto)` hands out the earliest valid entry at or before `upto`."""

    def __init__(self, db: PartitionDB, prefix: bytes, current: Callable[[str], int | None],
                 passed: Callable[[str], None] | None = None) -> None:  # fmt: skip
        """`current(user)`: the user's due of this kind now (its record, with unsaved changes); `passed(user)`: a
        stored entry earlier than the user's due was reached (see `move`): the store moves it at its checkpoint."""
        self.db = db
        self.prefix = prefix
        self.current = current
        self.passed = passed
        self.heap: list[tuple[int, str]] = []  # dues set since the checkpoint (some since moved on: checked on use)
        self.after = prefix  # store entries before this key were handed out (or skipped) since the checkpoint
        self._stored: object | tuple[int, str, bytes] | None = _UNKNOWN  # first store entry from `after`

    def set(self, user_id: str, due_ms: int | None) -> None:
        """Record that the user's due is now `due_ms` (None: no timer of this kind)."""
        if due_ms is not None:
            heapq.heappush(self.heap, (due_ms, user_id))

    def next_due(self) -> int | None:
        """A lower bound of the earliest due (exact once stale entries have been skipped); None: nothing."""
        stored = self._peek_stored()
        heap = self.heap
        best = heap[0][0] if heap else None
        if stored is not None and (best is None or stored[0] < best):
            best = stored[0]
        return best

    def peek(self, upto_ms: int) -> tuple[int, str] | None:
        """The earliest entry due at or before `upto_ms` that the user's record still holds, left in; else None.
        (Entries the records have moved past are dropped on the way.)"""
        found = self._head(upto_ms)
        return None if found is None else found[:2]

    def pop(self, upto_ms: int) -> tuple[int, str] | None:
        """Like `peek`, but the entry is taken out."""
        found = self._head(upto_ms)
        if found is None:
            return None
        due, user_id, key = found
        if key is None:
            heapq.heappop(self.heap)
        else:
            self.after, self._stored = key + b"\x00", _UNKNOWN
        return due, user_id

    def _head(self, upto_ms: int) -> tuple[int, str, bytes | None] | None:
        """(due, user, store key or None for the heap) of the first valid entry at or before `upto_ms`."""
        heap = self.heap
        while True:
            stored = self._peek_stored()
            top = heap[0] if heap else None
            if stored is not None and (top is None or (stored[0], stored[1]) < top):
                due, user_id, key = stored
                if due > upto_ms:
                    return None
                current = self.current(user_id)
                if current == due:
                    return due, user_id, key
                self.after, self._stored = key + b"\x00", _UNKNOWN
                if current is not None and current > due and self.passed is not None:
                    heapq.heappush(heap, (current, user_id))  # still fires on time before the checkpoint
                    self.passed(user_id)
            elif top is not None:
                due, user_id = top
                if due > upto_ms:
                    return None
                if self.current(user_id) == due:
                    return due, user_id, None
                heapq.heappop(heap)
            else:
                return None

    def checkpointed(self) -> None:
        """The store now holds every change: forget them and read the store from its start again."""
        self.heap.clear()
        self.after, self._stored = self.prefix, _UNKNOWN

    def move(self, user_id: str, old: int | None, new: int | None, lazy: bool) -> tuple[list[Write], int | None]:
        """The writes for a user's due going from `old` to `new`, and the due the store then holds. `lazy`: a
        later due keeps the earlier entry (no writes); reaching it calls `passed`, and the next move is eager."""
        if lazy and old is not None and new is not None and new > old:
            return [], old
        return self.writes(user_id, old, new), new

    def writes(self, user_id: str, old: int | None, new: int | None) -> list[Write]:
        """The store writes that move a user's entry from `old` to `new`."""
        if old == new:
            return []
        out: list[Write] = []
        if old is not None:
            out.append((due_key(self.prefix, old, user_id), None))
        if new is not None:
            out.append((due_key(self.prefix, new, user_id), b""))
        return out

    def _peek_stored(self) -> tuple[int, str, bytes] | None:
        if self._stored is _UNKNOWN:
            found = None
            for key, _ in self.db.range(self.after, prefix_end(self.prefix)):
                due, user_id = parse_due(self.prefix, key)
                found = (due, user_id, key)
                break
            self._stored = found
        return self._stored  # type: ignore[return-value]


class FanIndex:
    """Users by affinity key (categories, creators, items) for catalogue fan-out, as the store holds them."""

    def __init__(self, db: PartitionDB) -> None:
        self.db = db

    def users(self, keys: Iterable[str]) -> set[str]:
        """Every user the store lists under any of `keys` (some may have lost it since: the engine checks each
        against its state; gains since the checkpoint are the caller's)."""
        found: set[str] = set()
        for key in keys:
            prefix = fan_prefix(key)
            start = len(prefix)
            found.update(k[start:].decode() for k, _ in self.db.range(prefix, prefix_end(prefix)))
        return found

    @staticmethod
    def writes(user_id: str, changes: dict[str, bool]) -> list[Write]:
        """The store writes of a user's gained (True) and lost (False) keys."""
        user = user_id.encode()
        return [(fan_prefix(k) + user, b"" if present else None) for k, present in changes.items()]
