"""Feedback and attribution agents: decisions, deliveries and behaviour -> per-trigger TriggerMetrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import faust

from schemas import codec
from schemas.errors import SchemaError
from schemas.records import BehaviorEvent, DeadLetter, DeliveryResult, NotificationDecision
from schemas.topics import dlq_for
from streams.analytics.attribution import AnalyticsConfig, Count, UserAttribution, attribute, prune
from streams.analytics.metrics import MetricsBoard
from streams.pipeline.tables import in_partition_of
from streams.validation import check_record

if TYPE_CHECKING:
    from streams.pipeline.agents import EngineTopics
    from streams.pipeline.metrics import PipelineMetrics

# Windows older than this behind a trigger's newest one no longer change: dropped to bound the board.
BOARD_RETENTION_MS = 35 * 86_400_000
EXPECTED = {"decisions": NotificationDecision, "delivery": DeliveryResult}


def relevant_event(event: BehaviorEvent, cfg: AnalyticsConfig) -> bool:
    """Whether an event can change an attribution count (feedback, a goal or activity)."""
    return (
        event.job_id is not None
        or event.type in cfg.activity_types
        or event.type in cfg.conversion_types
        or any(event.type in goals for goals in cfg.trigger_conversion_types.values())
    )


def encode_counts(counts: list[Count]) -> bytes:
    return json.dumps([[c.trigger_id, c.variant, c.window_start_ms, c.name, c.reason] for c in counts]).encode()


def decode_counts(raw: bytes) -> list[Count]:
    return [Count(t, v, int(w), n, r) for t, v, w, n, r in json.loads(raw)]


def attribute_batch(
    states: dict[str, UserAttribution], records: list[tuple[str, object, int]], cfg: AnalyticsConfig
) -> dict[str, list[Count]]:
    """Apply (user, record, event time) in order to the users' states; counts grouped by trigger."""
    out: dict[str, list[Count]] = defaultdict(list)
    for user_id, record, at_ms in records:
        state = states.setdefault(user_id, UserAttribution())
        prune(state, at_ms, cfg)
        for count in attribute(state, record, cfg):
            out[count.trigger_id].append(count)
    return out


def add_to_board(board: MetricsBoard, counts: list[Count]) -> set[tuple[str, str, int]]:
    """Add counts, forget windows past the retention; returns the keys that changed."""
    touched = board.add(counts)
    if board.cells:
        newest = max(k[2] for k in board.cells)
        for key in [k for k in board.cells if k[2] < newest - BOARD_RETENTION_MS]:
            del board.cells[key]
    return {k for k in touched if k in board.cells}


def _time_of(record: Any) -> int:
    return record.at_ms if isinstance(record, DeliveryResult) else record.event_time_ms


def install_feedback(
    app: faust.App,
    names: EngineTopics,
    metrics: PipelineMetrics,
    *,
    partitions: int,
    max_value_bytes: int,
    cfg: AnalyticsConfig | None = None,
    batch_size: int = 1000,
    batch_seconds: float = 0.1,
) -> None:
    """Add the three attribution stages: re-key by user, attribute per user, aggregate per trigger."""
    cfg = cfg or AnalyticsConfig()
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    # behaviour events reach by_user from the engine agent, which reads and validates them anyway
    inputs = app.topic(names.decisions, names.delivery, **raw)
    # internal: Faust creates them (with the app's partition count) when the worker starts
    by_user = app.topic(names.by_user, partitions=partitions, internal=True, **raw)
    counts_topic = app.topic(names.counts, partitions=partitions, internal=True, **raw)
    out_topic = app.topic(names.trigger_metrics, **raw)
    dlqs = {t: app.topic(dlq_for(t), **raw) for t in (names.decisions, names.delivery)}
    kinds = {names.decisions: "decisions", names.delivery: "delivery"}
    users = app.Table("attribution", default=None, partitions=partitions, key_type=bytes, value_type=bytes)
    boards = app.Table("trigger-metrics", default=None, partitions=partitions, key_type=bytes, value_type=bytes)

    @app.agent(inputs, name=f"{app.conf.id}.attribution-rekey")
    async def rekey(stream: faust.StreamT) -> None:
        # Producers partition users differently (librdkafka crc32, Java/aiokafka murmur2): re-key with
        # one partitioner so a user's decisions, deliveries and events meet in one partition.
        async for batch in stream.take_events(batch_size, within=batch_seconds):
            sends = []
            now_ms = int(time.time() * 1000)
            for event in batch:
                msg = event.message
                record = check_record(event.value, msg.key, topic=msg.topic, partition=msg.partition,
                                      offset=msg.offset, now_ms=now_ms, expected=EXPECTED[kinds[msg.topic]],
                                      max_value_bytes=max_value_bytes)  # fmt: skip
                if isinstance(record, DeadLetter):
                    metrics.dead_letters.labels(msg.topic, record.error_kind).inc()
                    sends.append(await dlqs[msg.topic].send(key=msg.key, value=codec.encode(record)))
                    continue
                sends.append(await by_user.send(key=record.user_id.encode(), value=event.value))
            if sends:
                await asyncio.gather(*sends)

    @app.agent(by_user, name=f"{app.conf.id}.attribution")
    async def attribute_users(stream: faust.StreamT) -> None:
        async for batch in stream.take_events(batch_size, within=batch_seconds):
            states: dict[str, UserAttribution] = {}
            last: dict[str, faust.EventT] = {}
            records = []
            for event in batch:
                try:
                    record = codec.decode(event.value)
                except SchemaError:
                    continue  # validated before re-keying; nothing else writes this topic
                user_id = record.user_id
                if user_id not in states:
                    stored = users.get(user_id.encode())
                    states[user_id] = UserAttribution.from_dict(json.loads(stored)) if stored else UserAttribution()
                last[user_id] = event
                records.append((user_id, record, _time_of(record)))
            grouped = attribute_batch(states, records, cfg)
            for trigger_id, counts in grouped.items():
                for c in counts:
                    metrics.attribution_counts.labels(c.name).inc()
                await counts_topic.send(key=trigger_id.encode(), value=encode_counts(counts))
            for user_id, state in states.items():
                with in_partition_of(last[user_id]):
                    users[user_id.encode()] = json.dumps(state.to_dict(), separators=(",", ":")).encode()

    @app.agent(counts_topic, name=f"{app.conf.id}.trigger-metrics")
    async def aggregate(stream: faust.StreamT) -> None:
        async for event in stream.events():
            key = event.message.key
            stored = boards.get(key)
            board = MetricsBoard.from_dict(json.loads(stored)) if stored else MetricsBoard(cfg.window_ms)
            touched = add_to_board(board, decode_counts(event.value))
            now_ms = int(time.time() * 1000)
            for record in board.records(now_ms, touched):
                out_key = f"{record.trigger_id}|{record.variant}|{record.window_start_ms}".encode()
                await out_topic.send(key=out_key, value=codec.encode(record))
                metrics.trigger_metrics_out.inc()
            boards[key] = json.dumps(board.to_dict(), separators=(",", ":")).encode()
