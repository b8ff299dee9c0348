"""A Faust consumer subclass that hands whole fetched batches of chosen topics to a batch handler."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import faust
from aiokafka import AIOKafkaProducer
from faust.exceptions import AlreadyConfiguredWarning
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP

from streams.fastpath.checkpoint import Checkpoint
from streams.fastpath.transaction import TRANSACTION_TIMEOUT_MS, Transaction


class RecordLike(Protocol):
    """The fields of a fetched record a batch handler reads (aiokafka ConsumerRecord and faust Message have them)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class ChangelogRecord:
    """A fetched changelog record as a table's `apply_changelog_batch` reads an event (and its message)."""

    __slots__ = ("key", "message", "offset", "partition", "topic", "tp", "value")

    def __init__(self, tp: TP, record: Any) -> None:
        self.tp, self.topic, self.partition = tp, tp.topic, tp.partition
        self.offset, self.key, self.value = record.offset, record.key, record.value
        self.message = self  # stores read event.message.key / .value / .partition / .offset / .tp


PRODUCER_LINGER_S = 0.005  # 5 ms of the 50 ms event -> job budget buys batched produce requests
PRODUCER_BATCH_BYTES = 262_144  # per partition and request; Faust's 16 KiB default splits a batch's outputs
# Python's collector as the worker runs it: young collections after 300k new objects (default 700: a full fetched
# batch would trigger hundreds), the middle generation after 100 of them (default 10: decoded records live in the
# record cache for seconds, so they reached the oldest generation and its full collections before they were
# evicted). A young generation that large lets most of an event's objects die before any collection looks at
# them: 50k -> 300k gave +15% events/s at 250k users (A/B in one sitting, streams/bench/NOTES.md). The
# per-event path makes no reference cycles (in process the collector finds nothing to free), so the bigger young
# generation holds no extra memory.
GC_THRESHOLDS = (300_000, 100, 10)
# Records a handler gets at a time. A fetch round may hold tens of thousands of a partition's records (Faust
# returns all it buffered, and the fetcher keeps fetching the next while they are handled); between two chunks a
# due commit runs, so the changes held until a checkpoint stay about one commit interval's worth. Unchunked, a
# replay's round ran for seconds with no commit: its larger commits coalesced more (~15% less CPU per event at 50k
# users) but held every change of the round at once (~650 MiB of RSS at 1M users); a longer commit interval buys
# the same coalescing, bounded. Bounding the rounds (max_poll_records) cost as much and stalled the fetcher.
CHUNK_RECORDS = 2_000

EXIT_TRANSACTION_FAILED = 75  # EX_TEMPFAIL: a restart recovers

BatchHandler = Callable[[Sequence[Any]], Awaitable[None]]


class BatchRoutes:
    """Which topics go to which batch handler, the checkpoint that runs before each offset commit, and the
    transaction it commits in (exactly-once; None: at-least-once, Faust's producer and offset commit)."""

    def __init__(self) -> None:
        self.handlers: dict[str, BatchHandler] = {}
        self.transaction: Transaction | None = None
        self.checkpoint = Checkpoint()
        # Topics whose fetched records go before the others' in each round: side inputs the events read (a
        # profile produced with a signup should name the user in the welcome, whichever fetch got there first).
        self.first: set[str] = set()
        # A checkpoint never interleaves with a batch: it sees whole batches only (their outputs and their state).
        self.lock = asyncio.Lock()

    def route(self, topics: Sequence[str], handler: BatchHandler) -> None:
        for topic in topics:
            self.handlers[topic] = handler

    async def flush(self) -> None:
        async with self.lock:
            await self.checkpoint.run()


class ReadCommittedThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, reading with isolation level read_committed (its own transactions stay off)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = self.consumer
        consumer.in_transaction = True  # the one thing Faust reads it for here: read_committed
        try:
            return super()._create_worker_consumer(transport)
        finally:
            consumer.in_transaction = False


class BatchConsumer(AIOKafkaConsumer):
    """Faust's aiokafka consumer, with records of routed topics delivered as lists, not Events.

    Faust keeps everything else: assignment, what recovery reads (a changelog batch goes to its store at
    once), offset commits (a handled batch marks its last offset done) and the commit interval. The
    routes' checkpoint runs before every offset commit: outputs confirmed, then state written lazily made
    durable, before the offsets that produced them are committed (at-least-once holds).
    """

    routes: BatchRoutes

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._batch_done: dict[TP, int] = {}

    def ack(self, message: Any) -> bool:
        # A stream that reads a message while flow is suspended (stopping, rebalancing) skips it unprocessed yet
        # acks it, and the commit that follows passes its offset: never processed nor read again. Such a message
        # was never tracked by the stream: its ack is dropped, so the next owner reads it.
        if not message.tracked and self.app.topics.acks_enabled_for(message.topic):
            return False
        return super().ack(message)

    def _new_offset(self, tp: TP) -> int | None:
        done = self._batch_done.pop(tp, None)
        return done if done is not None else super()._new_offset(tp)

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        if self.routes.transaction is None:
            return super()._new_consumer_thread()
        return ReadCommittedThread(self, loop=self.loop, beacon=self.beacon)

    async def on_start(self) -> None:
        if self.routes.transaction is not None:
            await self.routes.transaction.start()  # before any fetch: an earlier incarnation's transaction is aborted
        await super().on_start()

    async def on_stop(self) -> None:
        await super().on_stop()  # commits
        if self.routes.transaction is not None:
            await self.routes.transaction.stop()

    async def _commit_tps(self, tps: Any, start_new_transaction: bool) -> bool:
        if self.routes.transaction is None:
            return await super()._commit_tps(tps, start_new_transaction)
        # Exactly-once: the offsets are chosen, the checkpoint run and the transaction committed with no batch in
        # between, so the transaction holds exactly the batches whose offsets it commits.
        async with self.routes.lock:
            return await super()._commit_tps(tps, start_new_transaction)

    async def _commit_offsets(self, offsets: Any, start_new_transaction: bool = True) -> bool:
        transaction = self.routes.transaction
        if transaction is None:
            await self.routes.flush()
            return await super()._commit_offsets(offsets, start_new_transaction=start_new_transaction)
        assignment = self.assignment()
        committable = {tp: offset for tp, offset in offsets.items() if tp in assignment}
        try:  # under the routes' lock (_commit_tps): no batch sends between the checkpoint and the commit
            await self.routes.checkpoint.run(lambda: transaction.commit(committable, self.app.conf.id))
        except Exception as exc:
            # The transaction is aborted (or fenced by a newer worker with this id); this worker's memory is
            # ahead of what was committed and its local store is not. Exit at once, as a SIGKILL would: the
            # restarted worker, or the partitions' next owner, redoes the batches from the commit.
            self.log.critical("transaction commit failed, exiting for a restart: %r", exc)
            os._exit(EXIT_TRANSACTION_FAILED)
        if committable:
            self.app.tables.on_commit(committable)
            self._committed_offset.update(committable)
            self.app.monitor.on_tp_commit(committable)
        return bool(committable)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        await self._commit_before_handoff()
        for tp in revoked:
            self._batch_done.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def _commit_before_handoff(self) -> None:
        """Commit every handled batch while its partition is still ours, so the next owner does not redo it.

        Faust forgets a revoked partition's progress before its own rebalance commit, which then skips it:
        the next owner would reprocess (and send again) everything since the last interval commit. Here no
        new batch starts (flow stops, as Faust would stop it next), the batch in hand finishes, and the
        commit (state and outputs flushed first) runs while the group still lets this member commit.
        """
        if self.app.should_stop:
            return  # stopping: Faust's own stop commits
        self.stop_flow()
        async with self.routes.lock:
            pass  # the batch being handled, if any, is done
        try:
            await self.maybe_wait_for_commit_to_finish()  # an interval commit in progress may predate the last batch
            await self.commit()
        except Exception as exc:  # a commit refused here is redone by the next owner: at-least-once still holds
            self.log.warning("commit before giving up partitions failed: %r", exc)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - exercised by the process tests
        handlers = self.routes.handlers
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                await asyncio.sleep(0)
                if self.should_stop:
                    break
                records, active = await self._wait_next_records(1.0)
                if not records or self.should_stop:
                    self.diag.unset_flag(CONSUMER_FETCHING)
                    if self.routes.transaction is not None and not self.should_stop:
                        await self._past_markers()
                    continue
                if not self.flow_active:
                    await self.perform_seek()
                    continue
                generation = self.app.consumer_generation_id
                first = self.routes.first
                for tp, batch in sorted(records.items(), key=lambda item: item[0].topic not in first):
                    if active is not None and tp not in active and tp not in self._buffered_partitions:
                        continue
                    if self.app.consumer_generation_id != generation or not self.flow_active:
                        break  # a rebalance started: what was fetched is stale, Faust seeks back
                    handler = handlers.get(tp.topic)
                    if handler is None and self._restoring(tp):
                        await self._restore_batch(tp, batch)
                    elif handler is None:
                        await self._deliver_one_by_one(tp, batch)
                    else:
                        await self._deliver_batch(tp, batch, handler, generation)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _deliver_batch(self, tp: TP, batch: list[Any], handler: BatchHandler, generation: int) -> None:
        read = self._read_offset[tp]
        if read is not None and batch[0].offset < read:
            batch = [r for r in batch if r.offset >= read]  # already handled before a seek
            if not batch:
                return
        self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
        await in_chunks(
            batch,
            CHUNK_RECORDS,
            lambda chunk, last: self._deliver_chunk(tp, chunk, handler, generation, last),
            # a rebalance started: the rest is the next owner's (or fetched again after a seek)
            lambda: self.app.consumer_generation_id == generation and self.flow_active,
        )

    async def _deliver_chunk(self, tp: TP, chunk: list[Any], handler: BatchHandler, generation: int,
                             ends_batch: bool) -> bool:  # fmt: skip
        """Handle `chunk` and set its offset; false if the partitions were reassigned meanwhile."""
        async with self.routes.lock:  # the chunk and its offset together: a commit sees both or neither
            await handler(chunk)
            if self.app.consumer_generation_id != generation:
                if self.routes.transaction is not None:
                    # Its outputs are in the open transaction, its offset must not be: no commit could be right.
                    self.log.critical("partitions reassigned while a batch was handled, exiting for a restart")
                    os._exit(EXIT_TRANSACTION_FAILED)
                return False  # revoked while handling: the new owner reprocesses from the committed offset
            last = chunk[-1].offset
            self._read_offset[tp] = last
            done = last + 1
            if self.routes.transaction is not None and ends_batch:
                # Past the transaction markers after the fetched records: a committed offset short of them never
                # reaches the partition's end (lag and the replay's caught-up check would never say 0). Only
                # after the batch's last chunk: the position is past every record fetched.
                done = max(done, await self.position(tp) or 0)
            self._batch_done[tp] = done
            self._acked[tp]
        return True
        # No commit every N messages here: the commit interval alone bounds the work a crash repeats,
        # and a longer interval is what lets the changelog coalesce (Kafka Streams' commit.interval.ms).

    def _restoring(self, tp: TP) -> bool:
        """Whether `tp` is a changelog partition Faust's recovery is reading (as an active or a standby)."""
        recovery = self.app.tables.recovery
        return tp in recovery.tp_to_table and (tp in recovery.active_tps or tp in recovery.standby_tps)

    async def _restore_batch(self, tp: TP, batch: list[Any]) -> None:
        """Apply a fetched changelog batch to its table's store at once, not one queued event per record.

        Faust's recovery reads changelogs through its per-event path (~4k records/s here). The batch goes
        straight to the store (a RocksDB write batch) and the recovery's offset for the partition moves to its
        last record; then that record also goes the usual way, where Faust finds it already applied and checks
        whether recovery is done (it would otherwise notice only at its next 5 s idle check).
        """
        recovery = self.app.tables.recovery
        offsets = recovery.active_offsets if tp in recovery.active_tps else recovery.standby_offsets
        seen = offsets.get(tp)
        records = [r for r in batch if seen is None or r.offset > seen]
        if records:
            recovery.tp_to_table[tp].apply_changelog_batch([ChangelogRecord(tp, r) for r in records])
            offsets[tp] = records[-1].offset
            self._read_offset[tp] = records[-1].offset
            if self.routes.transaction is not None:
                await self._past_markers([tp])
        await self._deliver_one_by_one(tp, batch[-1:])

    async def _past_markers(self, tps: Sequence[TP] | None = None) -> None:
        """Count the transaction markers (and aborted records) a changelog read skipped as read.

        A transactional changelog ends in a commit marker, never delivered: Faust's recovery, which waits for the
        offset before the end, would wait forever (its own fix runs only with its exactly-once mode on, after 10 s).
        Whatever lies before the consumer's position is read, records or not.
        """
        recovery = self.app.tables.recovery
        for offsets, highwaters in ((recovery.active_offsets, recovery.active_highwaters),
                                    (recovery.standby_offsets, recovery.standby_highwaters)):  # fmt: skip
            for tp in list(highwaters) if tps is None else tps:
                highwater, seen = highwaters.get(tp), offsets.get(tp)
                if highwater is None or seen is None or seen >= highwater or not self._restoring(tp):
                    continue
                position = await self.position(tp)
                if position is not None and position - 1 > seen:
                    offsets[tp] = min(position - 1, highwater)

    async def _deliver_one_by_one(self, tp: TP, batch: list[Any]) -> None:
        # Faust's own path for everything not routed (changelogs during recovery, other agents' topics).
        callback = self.callback
        for record in batch:
            offset = record.offset
            read = self._read_offset[tp]
            if read is not None and offset < read:
                continue
            if read and offset - read > 1 and self.app.topics.acks_enabled_for(record.topic):
                await self._add_gap(tp, read + 1, offset)
            if self._commit_every is not None and self._n_acked >= self._commit_every:
                self._n_acked = 0
                await self.commit()
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            await self.wait_first(callback(self._to_message(tp, record)), self.suspend_flow.wait())
            self._read_offset[tp] = offset


async def in_chunks(
    records: Sequence[Any],
    size: int,
    deliver: Callable[[Sequence[Any], bool], Awaitable[bool]],
    current: Callable[[], bool],
) -> None:
    """Hand `records` to `deliver(chunk, is_last)` `size` at a time, until it returns false. Between two chunks the
    loop yields, so a commit that fell due runs, and goes on only while `current()` says the rest is still ours."""
    for start in range(0, len(records), size):
        if start:
            await asyncio.sleep(0)
            if not current():
                return
        chunk = records[start : start + size]
        if not await deliver(chunk, start + len(chunk) == len(records)):
            return


def subscribe(app: faust.App, channel: Any, name: str) -> None:
    """Subscribe `app` to a routed topic: Faust assigns and commits it, its records go to the batch handler."""

    @app.agent(channel, name=name)
    async def routed(stream: faust.StreamT) -> None:
        async for event in stream.events():  # pragma: no cover - routed records never reach the conductor
            raise RuntimeError(f"{event.message.topic}: a routed topic's record reached an agent")


def enable(app: faust.App, transactional_id: str | None = None) -> BatchRoutes:
    """Make `app` consume with BatchConsumer (before it starts); return its routing table. With a
    `transactional_id`, exactly-once: the batch path sends and commits in Kafka transactions, and reads
    read_committed."""
    gc.set_threshold(*GC_THRESHOLDS)
    # A batch's outputs and a flush's changelog records should share produce requests, not send one each.
    # The producer is built when the app starts, so these still apply though topics already read the conf.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlreadyConfiguredWarning)
        app.conf.producer_linger = max(app.conf.producer_linger or 0.0, PRODUCER_LINGER_S)
        app.conf.producer_max_batch_size = max(app.conf.producer_max_batch_size, PRODUCER_BATCH_BYTES)
    transport = app.transport
    routes = getattr(transport, "batch_routes", None)
    if routes is None:
        routes = BatchRoutes()
        consumer_cls = type("BatchConsumer", (BatchConsumer,), {"routes": routes})
        transport.Consumer = consumer_cls  # type: ignore[misc]  # instance override of the ClassVar
        transport.batch_routes = routes  # type: ignore[attr-defined]
    if transactional_id is not None and routes.transaction is None:
        routes.transaction = Transaction(lambda tid: new_transactional_producer(app, tid), transactional_id)
    return routes


def new_transactional_producer(app: faust.App, transactional_id: str) -> AIOKafkaProducer:
    """An aiokafka producer with the settings of the app's own (broker, security, batching), transactional."""
    faust_producer: Any = app.producer
    settings = {**faust_producer._settings_default(), **faust_producer._settings_auth(),
                **faust_producer._settings_extra()}  # fmt: skip
    return AIOKafkaProducer(**settings, transactional_id=transactional_id,
                            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS)  # fmt: skip
