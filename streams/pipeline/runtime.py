"""Per-worker runtime: one Lane per assigned partition over the changelog-backed state table."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

from schemas.records import BehaviorEvent, CatalogItem, UserProfile
from streams.decisions import DecisionConfig
from streams.engine.clock import StreamClock
from streams.engine.engine import Engine
from streams.engine.state import UserState
from streams.pipeline.firings import Policy
from streams.pipeline.lane import Lane, Result, Side
from streams.validation import check_record

# Table keys of per-partition stream time sit beside user ids; "\x00" keeps them apart.
CLOCK_KEY = b"\x00clock"
# The decision side of a user (decision state, profile, deferred-job timers) under its own key, so an
# event that changes only the engine state never reads or rewrites it.
SIDE_KEY = b"\x01"
# Each partition's copy of the product catalogue (items, shelves): "\x02<partition>|<logical key>".
CATALOG_KEY = b"\x02"
# What each input topic carries; ticks carry nothing.
EXPECTED: dict[str, type] = {"event": BehaviorEvent, "profile": UserProfile, "catalog": CatalogItem}


def pack(partition: int, body: bytes) -> bytes:
    """Table value: the partition (for index rebuilds) and the state."""
    return b"%d|%b" % (partition, body)


def catalog_key(partition: int, name: str) -> bytes:
    """Table key of one entry of a partition's catalogue copy."""
    return CATALOG_KEY + b"%d|%b" % (partition, name.encode())


def unpack(value: bytes) -> tuple[int, bytes]:
    """Inverse of `pack`."""
    head, _, body = value.partition(b"|")
    return int(head), body


class Runtime:
    """Routes validated records to partition lanes; the table is the one source of truth."""

    def __init__(
        self,
        engine: Engine,
        config: DecisionConfig,
        policies: dict[str, Policy],
        table: MutableMapping[bytes, bytes],
        *,
        replay: bool,
        allowed_lateness_ms: int,
        max_value_bytes: int,
        watch_horizon_ms: int | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.policies = policies
        self.table = table
        self.replay = replay
        self.lateness = allowed_lateness_ms
        self.max_value_bytes = max_value_bytes
        self.watch_horizon_ms = watch_horizon_ms  # see Lane: None = every event is wanted (or attribution is off)
        self.lanes: dict[int, Lane] = {}

    def forget(self) -> None:
        """Drop in-memory indexes (on rebalance); they are rebuilt from the table on next use."""
        self.lanes.clear()

    def lane(self, partition: int) -> Lane:
        """The partition's lane, rebuilt from the table the first time it is needed."""
        lane = self.lanes.get(partition)
        if lane is None:
            clock = StreamClock(self.lateness, replay=self.replay)
            lane = Lane(self.engine, self.config, self.policies, self._load_state, self._load_side, clock,
                        self.watch_horizon_ms, self._catalog_loader(partition))  # fmt: skip
            lane.rebuild(*self._records(partition))
            saved = self.table.get(CLOCK_KEY + b"%d" % partition)
            if saved is not None:
                clock.observe(int(saved) + self.lateness)
            self.lanes[partition] = lane
        return lane

    def read(
        self, kind: str, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, now_ms: int
    ) -> object:
        """The validated record of one input message, or a DeadLetter saying why not (ticks: None)."""
        if kind == "tick":
            return None
        return check_record(
            value,
            key,
            topic=topic,
            partition=partition,
            offset=offset,
            now_ms=now_ms,
            expected=EXPECTED[kind],
            max_value_bytes=self.max_value_bytes,
        )

    def handle(self, partition: int, record: object, wall_ms: int) -> Result:
        """Process one validated record (None: a wall-clock tick)."""
        lane = self.lane(partition)
        if record is None:
            return lane.on_wall_clock(wall_ms)
        if isinstance(record, BehaviorEvent):
            return lane.on_event(record)
        if isinstance(record, UserProfile):
            return lane.on_profile(record)
        if isinstance(record, CatalogItem):
            return lane.on_catalog(record)
        raise TypeError(f"unexpected record type {type(record).__name__} on the engine input")

    def dirty(self) -> list[tuple[int, bytes, bytes]]:
        """(partition, key, value) writes for states changed since the last call, plus stream times."""
        writes = []
        for partition, lane in self.lanes.items():
            for user_id, (state, side) in lane.take_dirty().items():
                key = user_id.encode()
                if state is not None:
                    writes.append((partition, key, pack(partition, state.to_bytes())))
                if side is not None:
                    writes.append((partition, SIDE_KEY + key, pack(partition, side.to_bytes())))
            for name, body in lane.catalog.take_dirty().items():
                writes.append((partition, catalog_key(partition, name), pack(partition, body)))
            writes.append((partition, CLOCK_KEY + b"%d" % partition, b"%d" % lane.clock.now_ms))
        return writes

    def timer_counts(self) -> dict[int, int]:
        """Users with a pending timer, per partition."""
        return {p: lane.timer_count() for p, lane in self.lanes.items()}

    def _catalog_loader(self, partition: int) -> Callable[[str], bytes | None]:
        def load(name: str) -> bytes | None:
            value = self.table.get(catalog_key(partition, name))
            return None if value is None else unpack(value)[1]

        return load

    def _load_state(self, user_id: str) -> UserState | None:
        value = self.table.get(user_id.encode())
        return None if value is None else UserState.from_bytes(unpack(value)[1])

    def _load_side(self, user_id: str) -> Side | None:
        value = self.table.get(SIDE_KEY + user_id.encode())
        return None if value is None else Side.from_bytes(unpack(value)[1])

    def _records(self, partition: int) -> tuple[list[UserState], list[tuple[str, Side]]]:
        states, sides = [], []
        for key, value in list(self.table.items()):
            if value is None or key.startswith((b"\x00", CATALOG_KEY)):
                continue
            p, body = unpack(value)
            if p != partition:
                continue
            if not key.startswith(SIDE_KEY):
                states.append(UserState.from_bytes(body))
            elif b'"t":{}' not in body or b'"w":' in body:  # sides with decision timers or a watch matter
                sides.append((key[len(SIDE_KEY) :].decode(), Side.from_bytes(body)))
        return states, sides
