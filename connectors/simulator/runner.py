"""The Kafka edge of the simulator: publish the world in accelerated time, feed it the pushes delivered."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import Consumer

from connectors.ingest.errors import InvalidRecordError
from connectors.ingest.publisher import EventPublisher
from connectors.simulator.world import World
from schemas.codec import decode
from schemas.errors import SchemaError
from schemas.records import DeliveryResult

PROGRESS_EVERY_S = 5.0


@dataclass
class RunStats:
    """What a run did."""

    published: int = 0
    rejected: int = 0
    pushes: int = 0
    bad_results: int = 0
    sim_end_ms: int = 0
    wall_s: float = 0.0
    by_type: dict[str, int] = field(default_factory=dict)


class SimulatorRunner:
    """Map wall time to event time (start + elapsed x speed), publish what is due, react to delivered pushes."""

    def __init__(
        self,
        world: World,
        publisher: EventPublisher,
        *,
        bootstrap: str,
        delivery_topic: str,
        duration_s: float,
        linger_s: float = 10.0,
        tick_s: float = 0.05,
        progress: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.world = world
        self.publisher = publisher
        self.bootstrap = bootstrap
        self.delivery_topic = delivery_topic
        self.duration_s = duration_s
        self.linger_s = linger_s
        self.tick_s = tick_s
        self.progress = progress
        self.clock = clock
        span_ms = world.config.end_ms - world.config.start_ms
        self.speed = span_ms / (duration_s * 1000)  # simulated ms per wall ms
        self.stats = RunStats()
        self._consumer: Consumer | None = None
        self._started_wall_ms = 0
        self._stop = False

    def start(self) -> SimulatorRunner:
        """Start the publisher and the delivery-result consumer."""
        self.publisher.start()
        self._started_wall_ms = time.time_ns() // 1_000_000
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"nudge-simulate-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",  # older results are skipped by timestamp, so none is missed
                "enable.auto.commit": False,
                "topic.metadata.refresh.interval.ms": 2000,  # the delivery topic may appear after we start
            }
        )
        self._consumer.subscribe([self.delivery_topic])
        return self

    def stop(self) -> None:
        """Ask run() to finish at the next tick (Ctrl-C, signals)."""
        self._stop = True

    def close(self) -> None:
        """Flush what was published and close the consumer."""
        try:
            self.publisher.close()
        finally:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None

    def sim_time(self, elapsed_s: float) -> int:
        """Event time reached after `elapsed_s` wall seconds."""
        return self.world.config.start_ms + int(elapsed_s * 1000 * self.speed)

    def run(self) -> RunStats:
        """Publish the whole span (then linger for late reactions); returns the stats."""
        t0 = self.clock()
        next_progress = t0 + PROGRESS_EVERY_S
        while not self._stop:
            elapsed = self.clock() - t0
            target = self.sim_time(elapsed)
            self._publish(self.world.advance(target))
            self._consume()
            if self.clock() >= next_progress:
                next_progress += PROGRESS_EVERY_S
                self.progress(self._line(target))
            if elapsed >= self.duration_s + self.linger_s:
                break
            time.sleep(self.tick_s)
        self.publisher.flush()
        self.stats.sim_end_ms = self.world.now_ms
        self.stats.wall_s = self.clock() - t0
        self.progress(self._line(self.world.now_ms) + "  done")
        return self.stats

    def _publish(self, records: list) -> None:
        for record in records:
            try:
                self.publisher.send(record)
            except InvalidRecordError as exc:
                self.stats.rejected += 1
                self.progress(f"rejected: {exc}")
                continue
            self.stats.published += 1
            name = getattr(record, "type", type(record).__name__)
            self.stats.by_type[name] = self.stats.by_type.get(name, 0) + 1
        self.publisher.poll(0)

    def _consume(self) -> None:
        assert self._consumer is not None
        for msg in self._consumer.consume(1000, timeout=0):
            if msg.error():
                continue
            _, ts = msg.timestamp()
            if ts and ts < self._started_wall_ms:
                continue
            try:
                result = decode(msg.value(), DeliveryResult)
            except SchemaError:
                self.stats.bad_results += 1
                continue
            # the push arrives "now" in event time: the job was made from events already published
            if result.status == "sent" and self.world.push(
                result.job_id, result.user_id, result.trigger_id, result.variant, self.world.now_ms
            ):
                self.stats.pushes += 1

    def _line(self, sim_ms: int) -> str:
        when = datetime.fromtimestamp(sim_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%MZ")
        feedback = sum(self.stats.by_type.get(t, 0) for t in ("notification_opened", "notification_clicked"))
        return (
            f"sim {when}  published {self.stats.published}  purchases {self.stats.by_type.get('purchase', 0)}"
            f"  pushes received {self.stats.pushes}  feedback {feedback}  rejected {self.stats.rejected}"
        )
