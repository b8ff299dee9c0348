"""Faust wiring: topics, the changelog-backed state table, the batch engine agent and the catalogue fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import faust
from faust.streams import _current_event  # the context table writes read their partition from
from prometheus_client import Counter

from schemas import codec, topics
from schemas.errors import SchemaError
from streams.engine.config import Catalogue
from streams.engine.engine import Engine
from streams.pipeline.outputs import default_outputs
from streams.pipeline.runtime import Runtime, dead_letter

log = logging.getLogger(__name__)

FIRINGS = Counter("nudge_engine_firings_total", "Trigger firings", ["trigger"])
DEAD_LETTERS = Counter("nudge_engine_dead_letters_total", "Engine input messages sent to the DLQ", ["topic"])
LATE_EVENTS = Counter("nudge_engine_late_events_total", "Events older than their partition's stream time")


@dataclass(frozen=True)
class EngineTopics:
    """Topic names the engine reads and writes (with the deployment prefix applied)."""

    events: str
    profiles: str
    catalog: str
    fanout: str
    ticks: str
    decisions: str
    jobs: str
    dlq: str

    @classmethod
    def named(cls, prefix: str, app_id: str) -> EngineTopics:
        def p(name: str) -> str:
            return topics.prefixed(prefix, name)

        return cls(
            events=p(topics.BEHAVIOR_EVENTS),
            profiles=p(topics.USER_PROFILES),
            catalog=p(topics.CATALOG_UPDATES),
            fanout=p(f"{app_id}.engine.catalog-fanout"),
            ticks=p(f"{app_id}.engine.ticks"),
            decisions=p(topics.NOTIFICATION_DECISIONS),
            jobs=p(topics.NOTIFICATION_JOBS),
            dlq=p(topics.BEHAVIOR_EVENTS_DLQ),
        )


@contextlib.contextmanager
def _in_partition_of(event: faust.EventT) -> Iterator[None]:
    """Make table writes land in this event's partition (batches mix partitions)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def install(
    app: faust.App,
    catalogue: Catalogue,
    *,
    prefix: str,
    replay: bool,
    allowed_lateness_ms: int,
    partitions: int,
    batch_size: int = 1000,
    batch_seconds: float = 0.05,
    tick_seconds: float = 1.0,
) -> Runtime:
    """Add the engine's topics, table and agents to `app` and return its runtime."""
    names = EngineTopics.named(prefix, app.conf.id)
    raw = {"key_serializer": "raw", "value_serializer": "raw", "partitions": partitions}
    sources = [names.events, names.profiles, names.fanout] + ([] if replay else [names.ticks])
    source = app.topic(*sources, **raw)
    catalog = app.topic(names.catalog, key_serializer="raw", value_serializer="raw")
    fanout = app.topic(names.fanout, **raw)
    ticks = app.topic(names.ticks, **raw)
    decisions, jobs, dlq = (
        app.topic(n, key_serializer="raw", value_serializer="raw") for n in (names.decisions, names.jobs, names.dlq)
    )
    table = app.Table("engine-state", default=None, partitions=partitions, key_type=bytes, value_type=bytes)
    engine = Engine(catalogue)
    runtime = Runtime(engine, table, lambda b: codec.decode(b), replay=replay, allowed_lateness_ms=allowed_lateness_ms)
    kinds = {names.events: "event", names.profiles: "profile", names.fanout: "catalog", names.ticks: "tick"}

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: set, **kwargs: object) -> None:
        runtime.forget()  # indexes are rebuilt from the recovered table on next use

    @app.agent(source, name=f"{app.conf.id}.engine")
    async def run_engine(stream: faust.StreamT) -> None:
        async for batch in stream.take_events(batch_size, within=batch_seconds):
            await process(batch)

    async def process(batch: list[faust.EventT]) -> None:
        sends = []
        last_of_partition: dict[int, faust.EventT] = {}
        late_before = sum(p.late_events for p in runtime.processors.values())
        for event in batch:
            msg = event.message
            last_of_partition[msg.partition] = event
            try:
                firings = runtime.handle(kinds[msg.topic], msg.partition, event.value, int(time.time() * 1000))
            except SchemaError as exc:
                DEAD_LETTERS.labels(msg.topic).inc()
                letter = dead_letter(
                    msg.topic, msg.partition, msg.offset, msg.key, event.value, exc, int(time.time() * 1000)
                )
                sends.append(await dlq.send(key=msg.key, value=codec.encode(letter)))
                continue
            for firing in firings:
                FIRINGS.labels(firing.trigger_id).inc()
                decision, job = default_outputs(firing, engine.triggers[firing.trigger_id])
                key = firing.user_id.encode()
                sends.append(await decisions.send(key=key, value=codec.encode(decision)))
                sends.append(await jobs.send(key=key, value=codec.encode(job)))
        LATE_EVENTS.inc(sum(p.late_events for p in runtime.processors.values()) - late_before)
        # Outputs are acknowledged before state is written: a crash in between re-fires the same ids, never loses one.
        if sends:
            await asyncio.gather(*sends)
        for partition, key, value in runtime.dirty():
            event = last_of_partition.get(partition)
            if event is None:
                continue  # a partition this batch did not touch has nothing new to write
            with _in_partition_of(event):
                table[key] = value

    @app.agent(catalog, name=f"{app.conf.id}.engine-catalog")
    async def fan_out(stream: faust.StreamT) -> None:
        # Users live in every partition: copy each update to all of them; each uses its own index.
        async for event in stream.events():
            for partition in range(partitions):
                await fanout.send(key=event.message.key, value=event.value, partition=partition)

    if not replay:

        @app.timer(tick_seconds)
        async def wall_clock_ticks() -> None:
            # The one seam where the wall clock enters: a tick per partition advances idle partitions.
            for partition in range(partitions):
                await ticks.send(key=b"tick", value=b"", partition=partition)

    return runtime
