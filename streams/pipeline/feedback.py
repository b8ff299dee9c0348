"""Feedback and attribution agents: decisions, deliveries and behaviour -> per-trigger TriggerMetrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import faust

from schemas import codec
from schemas.errors import SchemaError
from schemas.records import DeadLetter, DeliveryResult, NotificationDecision
from schemas.topics import dlq_for
from streams.analytics.attribution import AnalyticsConfig, Count, UserAttribution, attribute, prune
from streams.analytics.metrics import MetricsBoard
from streams.fastpath.consumer import BatchRoutes, subscribe
from streams.fastpath.pack import KeyPartitioner, pack_entries, unpack_entries
from streams.fastpath.state import TableWrites, in_partition, sink
from streams.pipeline.prometheus import PipelineMetrics
from streams.pipeline.topics import EngineTopics
from streams.state.faust_stores import table_options
from streams.validation import check_record

# Windows older than this behind a trigger's newest one no longer change: dropped to bound the board.
BOARD_RETENTION_MS = 35 * 86_400_000
EXPECTED = {"decisions": NotificationDecision, "delivery": DeliveryResult}
COUNTS_PER_MESSAGE = 5_000  # ~300 KB of counts JSON: well under the broker's message limit
OTHER, EVENT = 0, 1  # tags of re-keyed entries: an EVENT is a BehaviorEvent, skipped unread for users with no touch


def encode_counts(counts: list[Count]) -> bytes:
    return json.dumps([[c.trigger_id, c.variant, c.window_start_ms, c.name, c.reason] for c in counts]).encode()


def decode_counts(raw: bytes) -> list[Count]:
    return [Count(t, v, int(w), n, r) for t, v, w, n, r in json.loads(raw)]


def attribute_batch(
    states: dict[str, UserAttribution], records: list[tuple[str, object, int | None]], cfg: AnalyticsConfig
) -> dict[str, list[Count]]:
    """Apply (user, record, event time or None) in order to the users' states; counts grouped by trigger."""
    out: dict[str, list[Count]] = defaultdict(list)
    for user_id, record, at_ms in records:
        state = states.setdefault(user_id, UserAttribution())
        if at_ms is not None:
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


def _time_of(record: Any) -> int | None:
    """The record's event time; None for a delivery result, whose time is the wall clock's (in a replay that is
    years after the events: pruning by it would forget every touch a later conversion should find)."""
    return None if isinstance(record, DeliveryResult) else record.event_time_ms


def _encode_json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def encode_state(state: UserAttribution | MetricsBoard) -> bytes:
    return _encode_json(state.to_dict())


class Rekeyer:
    """Sends (user id, encoded record) pairs to the user's by-user partition, packed: one produce per partition."""

    def __init__(self, app: faust.App, topic: str, partitions: int) -> None:
        self.app = app
        self.topic = topic
        self.partition_of = KeyPartitioner(partitions)

    async def send(self, items: Sequence[tuple[int, str, bytes]]) -> list[asyncio.Future]:
        """Queue (tag, user id, record) in order; returns the producer's futures (confirm them before committing
        their inputs)."""
        by_partition: dict[int, list[tuple[int, bytes, bytes]]] = defaultdict(list)
        partition_of = self.partition_of
        for tag, user_id, value in items:
            by_partition[partition_of(user_id)].append((tag, user_id.encode(), value))
        send = sink(self.app).send
        return [
            await send(self.topic, None, message, partition, None, None)
            for partition, values in by_partition.items()
            for message in pack_entries(values)
        ]


class Attribution:
    """The attribution stage on fetched batches of by-user records.

    A user's state is read once per commit interval and kept in memory until the checkpoint, which
    publishes the counts coalesced per trigger and, once they are confirmed, writes each changed state
    once to the table (store and changelog). A crash re-attributes from the last written state.
    """

    def __init__(self, app: faust.App, users: Any, names: EngineTopics, metrics: PipelineMetrics,
                 cfg: AnalyticsConfig) -> None:  # fmt: skip
        self.app = app
        self.users = users
        self.source = names.by_user
        self.counts_topic = names.counts
        self.metrics = metrics
        self.cfg = cfg
        self.states: dict[int, dict[str, UserAttribution]] = defaultdict(dict)
        self.stored: dict[int, dict[str, bytes | None]] = defaultdict(dict)  # as read, to skip unchanged writes
        self.pending: dict[str, list[Count]] = defaultdict(list)
        self.writes = TableWrites(users, self.source)

    def attribute(self, partition: int, messages: Sequence[Any]) -> None:
        """Attribute the records of one partition's by-user messages (key, value), in order."""
        states, stored, pending, cfg = self.states[partition], self.stored[partition], self.pending, self.cfg
        names: Counter[str] = Counter()
        with in_partition(self.source, partition):
            for msg in messages:
                for tag, key, value in unpack_entries(msg.value, msg.key):
                    user_id = key.decode()
                    state = states.get(user_id)
                    if state is None:
                        raw = self.users.get(key)
                        stored[user_id] = raw
                        state = UserAttribution.from_dict(json.loads(raw)) if raw else UserAttribution()
                        states[user_id] = state
                    if tag == EVENT and not state.touches:
                        continue  # no touch to prune, count or change: the event cannot do anything (most views)
                    try:
                        record = codec.decode(value)
                    except SchemaError:
                        continue  # validated before re-keying; nothing else writes this topic
                    at_ms = _time_of(record)
                    if at_ms is not None:
                        prune(state, at_ms, cfg)
                    for count in attribute(state, record, cfg):
                        pending[count.trigger_id].append(count)
                        names[count.name] += 1
        for name, n in names.items():
            self.metrics.attribution_counts.labels(name).inc(n)

    async def publish(self) -> list[asyncio.Future]:
        """The counts since the last checkpoint, coalesced per trigger."""
        send = sink(self.app).send
        futures = []
        for trigger_id, counts in self.pending.items():
            for i in range(0, len(counts), COUNTS_PER_MESSAGE):
                value = encode_counts(counts[i : i + COUNTS_PER_MESSAGE])
                futures.append(await send(self.counts_topic, trigger_id.encode(), value, None, None, None))
        self.pending.clear()
        return futures

    async def write(self) -> list[asyncio.Future]:
        """Each changed state sent to the changelog once; the futures of those records."""
        sent: list[asyncio.Future] = []
        for partition, states in self.states.items():
            stored = self.stored[partition]
            items = []
            for user_id, state in states.items():
                before = stored.get(user_id)
                if before is None and not state.touches:
                    continue  # nothing stored and nothing to store: reads give the same empty state
                value = encode_state(state)
                if value != before:
                    items.append((user_id.encode(), value))
            if items:
                sent += await self.writes.send(partition, items)
        self.forget()
        return sent

    def apply(self, marker: int) -> None:
        """The states `write` sent, into the local store."""
        self.writes.apply(marker)

    def forget(self) -> None:
        """Drop the in-memory states and their unsent counts (after a checkpoint or a rebalance): both are redone."""
        self.states.clear()
        self.stored.clear()
        self.pending.clear()


class Boards:
    """The per-trigger aggregation on fetched batches of counts: boards kept in memory until the checkpoint.

    The checkpoint publishes the touched cells' TriggerMetrics and, once they are confirmed, writes each
    changed board once, with the offset of the next counts message it needs: counts a crash makes Faust redeliver
    (written to the board, offset not yet committed) are skipped, so no count is added twice.
    """

    def __init__(self, app: faust.App, boards: Any, names: EngineTopics, metrics: PipelineMetrics,
                 cfg: AnalyticsConfig) -> None:  # fmt: skip
        self.app = app
        self.boards = boards
        self.source = names.counts
        self.out_topic = names.trigger_metrics
        self.metrics = metrics
        self.cfg = cfg
        self.loaded: dict[int, dict[bytes, MetricsBoard]] = defaultdict(dict)
        self.touched: dict[int, dict[bytes, set[tuple[str, str, int]]]] = defaultdict(dict)
        self.next_offset: dict[int, dict[bytes, int]] = defaultdict(dict)
        self.writes = TableWrites(boards, self.source)

    def add(self, partition: int, messages: Sequence[Any]) -> None:
        """Add one partition's counts messages (key: trigger id) to their boards."""
        loaded, touched, next_offset = self.loaded[partition], self.touched[partition], self.next_offset[partition]
        with in_partition(self.source, partition):
            for msg in messages:
                key = msg.key
                board = loaded.get(key)
                if board is None:
                    stored = self.boards.get(key)
                    data = json.loads(stored) if stored else {}
                    board = MetricsBoard.from_dict(data) if data else MetricsBoard(self.cfg.window_ms)
                    loaded[key] = board
                    touched[key] = set()
                    next_offset[key] = int(data.get("o", -1))
                if msg.offset < next_offset[key]:
                    continue  # already in the stored board
                touched[key] |= add_to_board(board, decode_counts(msg.value))
                next_offset[key] = msg.offset + 1

    async def publish(self) -> list[asyncio.Future]:
        """TriggerMetrics of the cells touched since the last checkpoint."""
        send = sink(self.app).send
        futures = []
        now_ms = int(time.time() * 1000)
        for partition, loaded in self.loaded.items():
            for key, board in loaded.items():
                for record in board.records(now_ms, {k for k in self.touched[partition][key] if k in board.cells}):
                    out_key = f"{record.trigger_id}|{record.variant}|{record.window_start_ms}".encode()
                    futures.append(await send(self.out_topic, out_key, codec.encode(record), None, None, None))
        self.metrics.trigger_metrics_out.inc(len(futures))
        return futures

    async def write(self) -> list[asyncio.Future]:
        """Each changed board written once, with the offset of the next counts message it needs."""
        sent: list[asyncio.Future] = []
        for partition, loaded in self.loaded.items():
            next_offset = self.next_offset[partition]
            items = [(key, _encode_json({**board.to_dict(), "o": next_offset[key]})) for key, board in loaded.items()]
            if items:
                sent += await self.writes.send(partition, items)
        self.forget()
        return sent

    def apply(self, marker: int) -> None:
        """The boards `write` sent, into the local store."""
        self.writes.apply(marker)

    def forget(self) -> None:
        """Drop the in-memory boards (after a checkpoint or a rebalance); the table holds what was written."""
        self.loaded.clear()
        self.touched.clear()
        self.next_offset.clear()


def install_feedback(
    app: faust.App,
    names: EngineTopics,
    metrics: PipelineMetrics,
    *,
    partitions: int,
    max_value_bytes: int,
    rekeyer: Rekeyer,
    routes: BatchRoutes,
    cfg: AnalyticsConfig | None = None,
    decisions_from_elsewhere: bool = False,
) -> None:
    """Add the three attribution stages on fetched batches: re-key by user, attribute per user, aggregate per
    trigger (`routes`: the BatchRoutes of the app's consumer).
    `decisions_from_elsewhere`: also re-key notifications.decisions (decisions other workers publish); this
    worker's own decisions reach by-user from the engine, in order with the user's events.
    """
    cfg = cfg or AnalyticsConfig()
    raw = {"key_serializer": "raw", "value_serializer": "raw"}
    # behaviour events and this worker's decisions reach by_user from the engine agent, in the order it made them
    rekeyed_topics = [names.decisions, names.delivery] if decisions_from_elsewhere else [names.delivery]
    inputs = app.topic(*rekeyed_topics, **raw)
    # internal: Faust creates them (with the app's partition count) when the worker starts
    by_user = app.topic(names.by_user, partitions=partitions, internal=True, **raw)
    counts_topic = app.topic(names.counts, partitions=partitions, internal=True, **raw)
    kinds = {names.decisions: "decisions", names.delivery: "delivery"}
    small = table_options(app.conf.store, small=True)
    users = app.Table("attribution", default=None, partitions=partitions, key_type=bytes, value_type=bytes,
                      options=dict(small))  # fmt: skip
    boards = app.Table("trigger-metrics", default=None, partitions=partitions, key_type=bytes, value_type=bytes,
                       options=dict(small))  # fmt: skip
    stage = Attribution(app, users, names, metrics, cfg)
    totals = Boards(app, boards, names, metrics, cfg)

    async def rekey_records(batch: Sequence[Any]) -> list[asyncio.Future]:
        # Producers partition users differently (librdkafka crc32, Java/aiokafka murmur2): re-key with
        # one partitioner so a user's decisions, deliveries and events meet in one partition.
        sends, items = [], []
        now_ms = int(time.time() * 1000)
        for msg in batch:
            record = check_record(msg.value, msg.key, topic=msg.topic, partition=msg.partition, offset=msg.offset,
                                  now_ms=now_ms, expected=EXPECTED[kinds[msg.topic]],
                                  max_value_bytes=max_value_bytes)  # fmt: skip
            if isinstance(record, DeadLetter):
                metrics.dead_letters.labels(msg.topic, record.error_kind).inc()
                letter = codec.encode(record)
                sends.append(await sink(app).send(dlq_for(msg.topic), msg.key, letter, None, None, None))
                continue
            items.append((OTHER, record.user_id, msg.value))
        return sends + await rekeyer.send(items)

    async def rekey_batch(batch: Sequence[Any]) -> None:
        routes.checkpoint.sent(await rekey_records(batch))

    async def attribute_batch_of(batch: Sequence[Any]) -> None:
        stage.attribute(batch[0].partition, batch)

    async def aggregate_batch(batch: Sequence[Any]) -> None:
        totals.add(batch[0].partition, batch)

    @app.on_partitions_revoked.connect
    async def on_revoked(app: faust.App, revoked: set, **kwargs: object) -> None:
        stage.forget()  # re-read from the recovered tables on next use
        totals.forget()

    # Faust assigns and commits these topics; their fetched batches go to the handlers, both stages take part in
    # the checkpoint before each offset commit.
    subscribe(app, inputs, f"{app.conf.id}.attribution-rekey")
    subscribe(app, by_user, f"{app.conf.id}.attribution")
    subscribe(app, counts_topic, f"{app.conf.id}.trigger-metrics")
    routes.route(rekeyed_topics, rekey_batch)
    routes.route([names.by_user], attribute_batch_of)
    routes.route([names.counts], aggregate_batch)
    routes.checkpoint.register(stage)
    routes.checkpoint.register(totals)
