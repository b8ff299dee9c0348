"""Per-worker runtime: one PartitionRuntime per assigned partition, each over its partition's store."""

from __future__ import annotations

from collections.abc import Callable

from schemas.records import BehaviorEvent, CatalogItem, UserProfile
from streams.decisions import DecisionConfig
from streams.engine.clock import StreamClock
from streams.engine.engine import Engine
from streams.pipeline.firings import Policy
from streams.pipeline.partition import PartitionRuntime, Result
from streams.pipeline.store import PartitionStore
from streams.state.cache import RecordCache
from streams.state.db import PartitionDB, Write
from streams.validation import check_record

# What each input topic carries; ticks carry nothing.
EXPECTED: dict[str, type] = {"event": BehaviorEvent, "profile": UserProfile, "catalog": CatalogItem}
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024  # decoded records kept in memory by the whole worker (an estimate)


class Runtime:
    """Routes validated records to partition runtimes; each partition's store is the one source of truth.

    A partition's runtime costs nothing to make: an assignment reads only its stream time, and everything
    else is read on use, through one cache bounded in bytes for the whole worker.
    """

    def __init__(
        self,
        engine: Engine,
        config: DecisionConfig,
        policies: dict[str, Policy],
        dbs: Callable[[int], PartitionDB],
        *,
        replay: bool,
        allowed_lateness_ms: int,
        max_value_bytes: int,
        watch_horizon_ms: int | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.engine = engine
        self.config = config
        self.policies = policies
        self.dbs = dbs
        self.replay = replay
        self.lateness = allowed_lateness_ms
        self.max_value_bytes = max_value_bytes
        self.watch_horizon_ms = watch_horizon_ms  # see PartitionRuntime: None = every event is wanted
        self.cache = RecordCache(cache_bytes)
        self.partitions: dict[int, PartitionRuntime] = {}
        self.min_affinity = engine.min_affinity if engine.recommendations else None

    def forget(self, partitions: set[int] | None = None) -> None:
        """Drop the runtimes and cached records of revoked partitions (all by default): another worker may
        change their stores before they come back."""
        for partition in list(self.partitions) if partitions is None else partitions:
            runtime = self.partitions.pop(partition, None)
            if runtime is not None:
                runtime.store.forget()

    def partition(self, partition: int) -> PartitionRuntime:
        """The partition's runtime, made on first use."""
        runtime = self.partitions.get(partition)
        if runtime is None:
            store = PartitionStore(partition, self.dbs(partition), self.cache, self.min_affinity)
            clock = StreamClock(self.lateness, replay=self.replay)
            runtime = PartitionRuntime(self.engine, self.config, self.policies, store, clock, self.watch_horizon_ms)
            self.partitions[partition] = runtime
        return runtime

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
        runtime = self.partition(partition)
        if record is None:
            return runtime.on_wall_clock(wall_ms)
        if isinstance(record, BehaviorEvent):
            return runtime.on_event(record)
        if isinstance(record, UserProfile):
            return runtime.on_profile(record)
        if isinstance(record, CatalogItem):
            return runtime.on_catalog(record)
        raise TypeError(f"unexpected record type {type(record).__name__} on the engine input")

    def checkpoint(self, apply: bool = True) -> dict[int, list[Write]]:
        """Every partition's changes as writes (for the changelog), applied to its store unless `apply` is false:
        then `apply` them before any partition is next used."""
        return {p: runtime.checkpoint(apply) for p, runtime in self.partitions.items()}

    def apply(self, writes: dict[int, list[Write]]) -> None:
        """Write what `checkpoint(apply=False)` returned to the partitions' stores."""
        for partition, partition_writes in writes.items():
            self.partition(partition).store.apply(partition_writes)

    def timer_counts(self) -> dict[int, int]:
        """Users with a pending timer, per partition (as of the last checkpoint)."""
        return {p: runtime.timer_count() for p, runtime in self.partitions.items()}
