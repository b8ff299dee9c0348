"""The key layout of a partition's store: records by user, indexes as ordered keys; pure.

Keys sort bytewise (RocksDB's order, and the in-memory store's), so an index is a range: the timers due up to a
time are the keys from `DUE_ENGINE` to `DUE_ENGINE + due_bytes(time)`, a catalogue key's fans a prefix.
"""

from __future__ import annotations

import struct

USER = b"u"  # u<user>: the user's engine state and what the lane mirrors of it (decision due, watch)
SIDE = b"s"  # s<user>: the decision side (decision state, profile, deferred jobs, firings awaiting a profile)
DUE_ENGINE = b"te"  # te<due><user>: the user's earliest engine timer
DUE_DECISION = b"td"  # td<due><user>: the user's earliest decision timer (a deferred job, a wait for a profile)
FANOUT = b"f"  # f<len><affinity key><user>: a user a catalogue update about that key may concern
ITEM = b"i"  # i<item>: the catalogue's view of an item
SHELF = b"h"  # h<affinity key>: new arrivals and price drops on a category's or creator's shelf
CLOCK = b"c"  # the partition's stream time
COUNTS = b"n"  # entries in each timer index, for the gauge (counting them would be a scan)

_DUE = struct.Struct(">Q")  # unsigned big-endian: byte order is time order for every time after 1970
_LEN = struct.Struct(">H")


def due_key(prefix: bytes, due_ms: int, user_id: str) -> bytes:
    """The index key of a user's timer due at `due_ms`."""
    return prefix + _DUE.pack(max(due_ms, 0)) + user_id.encode()


def due_bound(prefix: bytes, due_ms: int) -> bytes:
    """The first key after every entry due at or before `due_ms` (an exclusive range end)."""
    return prefix + _DUE.pack(max(due_ms + 1, 0))


def parse_due(prefix: bytes, key: bytes) -> tuple[int, str]:
    """(due, user) of a timer index key."""
    start = len(prefix)
    return _DUE.unpack_from(key, start)[0], key[start + _DUE.size :].decode()


def fan_prefix(affinity_key: str) -> bytes:
    """The prefix of every fan-out entry of one affinity key ("c:shoes", "r:acme", "i:item-9")."""
    raw = affinity_key.encode()
    return FANOUT + _LEN.pack(len(raw)) + raw


def fan_key(affinity_key: str, user_id: str) -> bytes:
    return fan_prefix(affinity_key) + user_id.encode()


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\xff" * (len(prefix) + 1)
    return stripped[:-1] + bytes([stripped[-1] + 1])
