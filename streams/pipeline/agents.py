"""Faust wiring: topics, the changelog-backed state table, the batch engine agent and the catalogue fan-out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import faust
from prometheus_client import CollectorRegistry, Counter

from schemas import codec, topics
from schemas.dead_letters import PROCESSING_ERROR, dead_letter
from schemas.records import BehaviorEvent, CatalogItem, DeadLetter
from streams.analytics.attribution import AnalyticsConfig
from streams.decisions import DecisionConfig
from streams.engine.config import Catalogue
from streams.engine.engine import Engine
from streams.fastpath import consumer as fastpath
from streams.fastpath.progress import ProgressFile
from streams.fastpath.state import ChangelogOffsets, send_changelog, sink
from streams.pipeline.feedback import EVENT, OTHER, Rekeyer, install_feedback
from streams.pipeline.firings import policies
from streams.pipeline.prometheus import PipelineMetrics
from streams.pipeline.runtime import Runtime
from streams.pipeline.topics import EngineTopics
from streams.pipeline.web import install_web
from streams.state.faust_stores import partition_db, store_url, table_options
from streams.state.keys import USER
from streams.validation import DEFAULT_MAX_VALUE_BYTES, check_record

log = logging.getLogger(__name__)


@lru_cache(maxsize=4096)
def _child(metric: Counter, *labels: str) -> Counter:
    """A labelled child, looked up once: `labels()` takes a lock and builds a tuple on every call."""
    return metric.labels(*labels)


@dataclass
class Outbox:
    """Messages one batch produces, by topic name, plus when each job's input was read (latency)."""

    messages: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)
    job_read_at: list[float] = field(default_factory=list)
    # (tag, user id, record) for attribution, in the order the engine made them: the decisions this worker makes
    # go straight to by-user too, so no later event of the user can overtake its own decision on the way
    rekeyed: list[tuple[int, str, bytes]] = field(default_factory=list)


def step(
    runtime: Runtime,
    metrics: PipelineMetrics,
    names: EngineTopics,
    kind: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    read_at: float,
    out: Outbox,
    feedback: frozenset[str] | None = None,  # event types attribution needs (with any job id): cfg.relevant_types
) -> None:
    """Validate one input message, run it through the engine and the decisions, and queue what it produced."""
    wall_ms = int(read_at * 1000)
    record = runtime.read(kind, topic, partition, offset, key, value, wall_ms)
    if isinstance(record, DeadLetter):
        metrics.dead_letters.labels(topic, record.error_kind).inc()
        out.messages.append((topics.dlq_for(topic), key, codec.encode(record)))
        return
    lane = runtime.partition(partition)
    late_before = lane.late_events
    try:
        result = runtime.handle(partition, record, wall_ms)
    except Exception as exc:  # a record that trips a bug must not stop the partition: report it, keep flowing
        log.exception("processing failed for %s[%d]@%d", topic, partition, offset)
        letter = dead_letter(topic=topic, partition=partition, offset=offset, key=key, value=value, at_ms=wall_ms,
                             error=exc, reason=PROCESSING_ERROR)  # fmt: skip
        metrics.dead_letters.labels(topic, PROCESSING_ERROR).inc()
        out.messages.append((topics.dlq_for(topic), key, codec.encode(letter)))
        result = None
    if feedback is not None and isinstance(record, BehaviorEvent):
        wanted = record.type in feedback and lane.watches(record.user_id, record.event_time_ms)
        if record.job_id is not None or wanted:
            out.rekeyed.append((EVENT, record.user_id, value or b""))  # to attribution, re-keyed by user
    if result is None:
        return
    if lane.late_events > late_before:
        metrics.late_events.inc(lane.late_events - late_before)
    for firing in result.firings:
        metrics.firings.labels(firing.trigger_id, runtime.engine.triggers[firing.trigger_id].kind).inc()
    for decision in result.decisions:
        metrics.decisions.labels(decision.outcome, decision.reason or "").inc()
        encoded = codec.encode(decision)
        out.messages.append((names.decisions, decision.user_id.encode(), encoded))
        if feedback is not None:
            out.rekeyed.append((OTHER, decision.user_id, encoded))
    for job in result.jobs:
        out.messages.append((names.jobs, job.user_id.encode(), codec.encode(job)))
        out.job_read_at.append(read_at)


class EngineStage:
    """The engine's part of the checkpoint: it publishes nothing of its own; each partition's dirty records and
    indexes go to the changelog and then the store once per commit (a key changed by many events is sent once)."""

    def __init__(self, runtime: Runtime, table: Any, metrics: PipelineMetrics) -> None:
        self.runtime, self.table, self.metrics = runtime, table, metrics
        self.unapplied: dict[int, list[tuple[bytes, bytes | None]]] = {}
        self.offsets = ChangelogOffsets()

    async def publish(self) -> list[asyncio.Future]:
        return []

    async def write(self) -> list[asyncio.Future]:
        sent: list[asyncio.Future] = []
        self.unapplied = self.runtime.checkpoint(apply=False)
        for partition, writes in self.unapplied.items():
            for key, value in writes:
                if value and key[:1] == USER:
                    self.metrics.state_bytes.observe(len(value))
            sent += await send_changelog(self.table, partition, writes, self.offsets)
        return sent

    def apply(self, marker: int) -> None:
        unapplied, self.unapplied = self.unapplied, {}
        self.runtime.apply(unapplied)
        self.offsets.apply(marker)
        for partition, count in self.runtime.timer_counts().items():
            self.metrics.timer_index.labels(str(partition)).set(count)


def install(
    app: faust.App,
    catalogue: Catalogue,
    config: DecisionConfig,
    *,
    prefix: str,
    replay: bool,
    allowed_lateness_ms: int,
    partitions: int,
    attribution: bool = True,
    attribution_events: str = "touched",
    registry: CollectorRegistry | None = None,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    tick_seconds: float = 1.0,
    progress_file: str | None = None,
    cache_mb: int = 256,
    transactional_id: str | None = None,
) -> Runtime:
    """Add the engine, decision and attribution agents, the tables and the web views to `app`; with a
    `transactional_id`, exactly-once (see streams.fastpath.transaction)."""
    names = EngineTopics.named(prefix, app.conf.id)
    registry = registry if registry is not None else CollectorRegistry()
    metrics = PipelineMetrics.build(registry)
    raw = {"key_serializer": "raw", "value_serializer": "raw", "partitions": partitions}
    sources = [names.events, names.profiles, names.fanout] + ([] if replay else [names.ticks])
    # internal: Faust creates missing ones (the worker's own fan-out and tick topics) with every partition
    # before it subscribes; a broker would auto-create them with one, and a consumer would not see them for minutes
    source = app.topic(*sources, internal=True, **raw)
    catalog = app.topic(names.catalog, key_serializer="raw", value_serializer="raw")
    ticks = app.topic(names.ticks, **raw)

    # Each partition's store holds the users' records and the indexes (timers, fan-out) as ordered keys: RocksDB
    # in production, the ordered memory store for memory:// apps. Faust owns the changelog and its recovery.
    table = app.Table("engine-state", default=None, partitions=partitions, key_type=bytes, value_type=bytes,
                      store=store_url(app.conf.store), options=table_options(app.conf.store))  # fmt: skip
    engine = Engine(catalogue)
    analytics = AnalyticsConfig()  # one config: which events attribution needs, and its own windows
    runtime = Runtime(
        engine,
        config,
        policies(catalogue),
        lambda partition: partition_db(table, partition),
        replay=replay,
        allowed_lateness_ms=allowed_lateness_ms,
        max_value_bytes=max_value_bytes,
        # "touched": only events of users this worker pushed or held out lately go to attribution (the rest can
        # change no count); each user's record keeps the watch, so no event of an untouched user is re-keyed
        watch_horizon_ms=analytics.horizon_ms() if attribution and attribution_events == "touched" else None,
        cache_bytes=cache_mb * 1024 * 1024,
    )
    feedback = analytics.relevant_types if attribution else None
    kinds = {names.events: "event", names.profiles: "profile", names.fanout: "catalog", names.ticks: "tick"}
    progress = ProgressFile(progress_file)
    rekeyer = Rekeyer(app, names.by_user, partitions)

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: set, **kwargs: object) -> None:
        runtime.forget({tp.partition for tp in revoked if tp.topic in sources})  # re-read on next use

    # Fetched batches go to `process` beneath Faust's per-event conductor; the checkpoint runs before every commit.
    routes = fastpath.enable(app, transactional_id)
    checkpoint = routes.checkpoint
    checkpoint.took = metrics.checkpoint_seconds.observe
    fastpath.subscribe(app, source, f"{app.conf.id}.engine")

    async def process(batch: Sequence[fastpath.RecordLike]) -> None:
        out = Outbox()
        read: dict[str, int] = {}  # input messages per topic, added to the metric once per batch
        for msg in batch:
            topic = msg.topic
            read[topic] = read.get(topic, 0) + 1
            step(runtime, metrics, names, kinds[topic], topic, msg.partition, msg.offset, msg.key, msg.value,
                 time.time(), out, feedback)  # fmt: skip
        for topic, n in read.items():
            _child(metrics.events_in, topic).inc(n)
        # Outputs are acknowledged before state is written: a crash in between re-sends the same ids, never loses one.
        if out.messages or out.rekeyed:
            send = sink(app).send  # same bytes and partitioner as Topic.send, without its per-message objects
            sent = [await send(t, k, v, None, None, None) for t, k, v in out.messages]
            if out.rekeyed:
                sent.extend(await rekeyer.send(out.rekeyed))
                metrics.attribution_events.inc(sum(1 for tag, _, _ in out.rekeyed if tag == EVENT))
            checkpoint.sent(sent)  # confirmed at the checkpoint, before any state and the offsets that made them
            done = time.time()
            for read_at in out.job_read_at:
                metrics.event_to_job.observe(done - read_at)
            metrics.jobs_out.inc(len(out.job_read_at))
        progress.add(len(batch))

    routes.route(sources, process)
    routes.first.add(names.profiles)
    checkpoint.register(EngineStage(runtime, table, metrics))

    async def fan_out(batch: Sequence[fastpath.RecordLike]) -> None:
        # Users live in every partition: copy each valid update to all of them; each uses its own index.
        send = sink(app).send
        sent = []
        now_ms = int(time.time() * 1000)
        for msg in batch:
            item = check_record(msg.value, msg.key, topic=msg.topic, partition=msg.partition, offset=msg.offset,
                                now_ms=now_ms, expected=CatalogItem, max_value_bytes=max_value_bytes)  # fmt: skip
            if isinstance(item, DeadLetter):
                metrics.dead_letters.labels(msg.topic, item.error_kind).inc()
                sent.append(await send(topics.dlq_for(msg.topic), msg.key, codec.encode(item), None, None, None))
                continue
            for partition in range(partitions):
                sent.append(await send(names.fanout, msg.key, msg.value, partition, None, None))
        _child(metrics.events_in, names.catalog).inc(len(batch))
        checkpoint.sent(sent)  # confirmed before the catalogue offsets are committed

    fastpath.subscribe(app, catalog, f"{app.conf.id}.engine-catalog")
    routes.route([names.catalog], fan_out)

    if not replay:

        @app.timer(tick_seconds)
        async def wall_clock_ticks() -> None:
            # The one seam where the wall clock enters: a tick per partition advances idle partitions.
            for partition in range(partitions):
                await ticks.send(key=b"tick", value=b"", partition=partition)

    if attribution:
        install_feedback(app, names, metrics, partitions=partitions, max_value_bytes=max_value_bytes, rekeyer=rekeyer,
                         decisions_from_elsewhere=attribution_events == "all",
                         cfg=analytics, routes=routes)  # fmt: skip
    install_web(app, registry, metrics, names=set(sources))
    return runtime
