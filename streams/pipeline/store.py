"""One partition's records over its database: reads through a bounded cache, changes kept until a checkpoint
writes them (records and their index entries together); pure."""

from __future__ import annotations

import json

from streams.engine.state import UserState
from streams.pipeline.records import Side, UserRecord
from streams.state.cache import RecordCache
from streams.state.db import PartitionDB, Write
from streams.state.indexes import DueIndex, FanIndex
from streams.state.keys import COUNTS, DUE_DECISION, DUE_ENGINE, SIDE, USER

_USER, _SIDE = 0, 1  # record kinds in the cache key
# What a decoded record takes in Python objects, measured with tracemalloc on the bench's states (a user's many
# small dicts and lists: ~10.5x its stored MessagePack; a side ~4x): tests/unit/pipeline/test_store_memory.py.
USER_BYTES_PER_STORED_BYTE = 10
SIDE_BYTES_PER_STORED_BYTE = 4
NEW_USER_BYTES = 1_700  # a record with an empty state (its dicts exist, empty)
NEW_SIDE_BYTES = 350


class PartitionStore:
    """Users, sides, the timer index (engine and decision timers), the fan-out index and raw entries of one
    partition. Nothing grows with the number of users but the database: decoded records live in `cache`
    (shared by every partition of the worker), changes until the next `checkpoint`."""

    def __init__(self, partition: int, db: PartitionDB, cache: RecordCache, min_affinity: float | None) -> None:
        """`min_affinity`: the fan-out bar of the recommendation triggers (None: no fan-out index)."""
        self.partition = partition
        self.db = db
        self.cache = cache
        self.min_affinity = min_affinity
        self.engine_due = DueIndex(db, DUE_ENGINE, lambda u: self.user(u).state.next_due(), self._engine_entry_passed)
        self.decision_due = DueIndex(db, DUE_DECISION, lambda u: self.user(u).decision_due)
        self.fans = FanIndex(db)
        # Fan-out keys gained since the checkpoint, by key: made from the changed records when a catalogue update
        # first asks (None until then), so events pay nothing for it where no catalogue update comes.
        self._gained: dict[str, set[str]] | None = None
        self.users: dict[str, UserRecord] = {}  # changed since the checkpoint
        self.sides: dict[str, Side] = {}
        self.raw: dict[bytes, bytes] = {}
        stored = db.get(COUNTS)
        self.counts: dict[str, int] = json.loads(stored) if stored else {"engine": 0, "decision": 0}

    def user(self, user_id: str) -> UserRecord:
        """The user's record: changed, cached, stored, or new."""
        record = self.users.get(user_id)
        if record is not None:
            return record
        key = (self.partition, _USER, user_id)
        record = self.cache.get(key)
        if record is None:
            raw = self.db.get(USER + user_id.encode())
            if raw is None:
                record = UserRecord(user_id, UserState(user_id))
                self.cache.put(key, record, NEW_USER_BYTES)
            else:
                record = UserRecord.decode(user_id, raw, self.min_affinity)
                self.cache.put(key, record, len(raw) * USER_BYTES_PER_STORED_BYTE)
        return record

    def changed(self, record: UserRecord) -> None:
        """The record changed: write it at the checkpoint; its engine due goes to the index now."""
        self.users[record.user_id] = record
        due = record.state.next_due()
        if due != record.pushed_due:
            record.pushed_due = due
            self.engine_due.set(record.user_id, due)

    def fan_gained(self, record: UserRecord, key: str) -> None:
        """The (changed) record is now listed under the fan-out `key`."""
        record.fans_changed(key, True)
        if self._gained is not None:
            self._gained.setdefault(key, set()).add(record.user_id)

    def fans_of(self, keys: list[str]) -> set[str]:
        """Every user listed under any of `keys`, stored or gained since the checkpoint (some may have lost it
        since: the engine checks each against its state)."""
        gained = self._gained
        if gained is None:
            gained = self._gained = {}
            for user_id, record in self.users.items():
                for key, present in (record.fan_changes or {}).items():
                    if present:
                        gained.setdefault(key, set()).add(user_id)
        found = self.fans.users(keys)
        for key in keys:
            found.update(gained.get(key, ()))
        return found

    def _engine_entry_passed(self, user_id: str) -> None:
        """A tick passed the user's stored engine entry, earlier than the due: move it at the checkpoint."""
        record = self.user(user_id)
        record.index_passed = True
        self.users[user_id] = record

    def side(self, user_id: str) -> Side:
        side = self.sides.get(user_id)
        if side is not None:
            return side
        key = (self.partition, _SIDE, user_id)
        side = self.cache.get(key)
        if side is None:
            raw = self.db.get(SIDE + user_id.encode())
            side = Side() if raw is None else Side.from_bytes(raw)
            self.cache.put(key, side, NEW_SIDE_BYTES if raw is None else len(raw) * SIDE_BYTES_PER_STORED_BYTE)
        return side

    def side_changed(self, user_id: str, side: Side) -> None:
        """The side changed: write it at the checkpoint; its decision due goes to the record and the index."""
        self.sides[user_id] = side
        due = side.next_due()
        record = self.user(user_id)
        if due != record.decision_due:
            record.decision_due = due
            self.decision_due.set(user_id, due)
            self.users[user_id] = record

    def get(self, key: bytes) -> bytes | None:
        """A raw entry (catalogue, clock), unsaved changes first."""
        value = self.raw.get(key)
        return value if value is not None else self.db.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.raw[key] = value

    def checkpoint(self, apply: bool = True) -> list[Write]:
        """Every change as writes, index entries with their records (the changelog gets the same), applied to the
        database unless `apply` is false: then the caller applies them (`apply`) before the partition is next used.
        """
        writes: list[Write] = []
        counts = self.counts
        for user_id, record in self.users.items():
            engine_due, decision_due = record.state.next_due(), record.decision_due
            old_engine, old_decision = record.saved
            # A deadline pushed later (every event re-arms inactivity) keeps its earlier entry: no writes now, and
            # a tick that reaches the entry moves it (`index_passed`). An earlier one is written at once.
            index, kept = self.engine_due.move(user_id, old_engine, engine_due, lazy=not record.index_passed)
            record.index_passed = False
            index += self.decision_due.writes(user_id, old_decision, decision_due)
            if record.fan_changes:
                index += FanIndex.writes(user_id, record.fan_changes)
                record.fan_changes = None
            counts["engine"] += (engine_due is not None) - (old_engine is not None)
            counts["decision"] += (decision_due is not None) - (old_decision is not None)
            record.saved = (kept, decision_due)
            body = record.encode()
            writes.append((USER + user_id.encode(), body))
            writes += index
            self.cache.put((self.partition, _USER, user_id), record, len(body) * USER_BYTES_PER_STORED_BYTE)
        for user_id, side in self.sides.items():
            body = side.to_bytes()
            writes.append((SIDE + user_id.encode(), body))
            self.cache.put((self.partition, _SIDE, user_id), side, len(body) * SIDE_BYTES_PER_STORED_BYTE)
        writes += self.raw.items()
        if self.users:
            writes.append((COUNTS, json.dumps(counts).encode()))
        if writes and apply:
            self.db.write(writes)
        self.users, self.sides, self.raw = {}, {}, {}
        self.engine_due.checkpointed()
        self.decision_due.checkpointed()
        self._gained = None
        return writes

    def apply(self, writes: list[Write]) -> None:
        """Write what `checkpoint(apply=False)` returned to the database."""
        if writes:
            self.db.write(writes)

    def forget(self) -> None:
        """Drop this partition's cached records (it was revoked: another worker may change them)."""
        self.cache.drop_where(lambda key: key[0] != self.partition)
