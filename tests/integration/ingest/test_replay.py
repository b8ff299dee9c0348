"""`nudge replay` against the real broker, with the real Taobao sample."""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path

from connectors.ingest.publisher import EventPublisher
from connectors.ingest.replay import replay
from connectors.ingest.topic_reader import read_to_end
from schemas.codec import decode
from schemas.records import BehaviorEvent
from tests.support.kafka import consume_all


def test_taobao_replay_publishes_every_valid_row(kafka_bootstrap: str, topic_factory, taobao_file: Path) -> None:
    topic = topic_factory("behavior.events", partitions=4)
    progress = io.StringIO()
    with EventPublisher(kafka_bootstrap, topic_overrides={BehaviorEvent: topic}) as publisher:
        report = replay(taobao_file, publisher, progress=progress)

    assert (report.read, report.published, report.rejected) == (96_169, 96_168, 1)
    assert report.bad[0].line_no == 96_169
    assert report.bad[0].line == "301780,543546,4181361,pv,15"
    assert "truncated" in report.bad[0].reason and "before 2000-01-01" in report.bad[0].reason
    assert "line 96169" in report.summary()
    assert "96,168/96,168" in progress.getvalue()
    # the bar's last figure and the summary's publish rate are one number, and both say what they count
    bar_rate = re.search(r"([\d,]+)/s acknowledged\n$", progress.getvalue())
    assert bar_rate and f"({bar_rate[1]} events/s acknowledged by Kafka" in report.summary(), report.summary()
    assert "/s queued" in progress.getvalue() and "read and sorted 96,169 rows in" in report.summary()

    events = [decode(m.value(), BehaviorEvent) for m in read_to_end({"bootstrap.servers": kafka_bootstrap}, topic)]
    assert len(events) == 96_168
    assert len({e.event_id for e in events}) == 96_168
    assert Counter(e.type for e in events) == {"view": 85_773, "cart": 5_292, "fav": 2_959, "purchase": 2_144}
    assert len({e.user_id for e in events}) == 58_732
    assert all(e.cart_id == e.user_id for e in events if e.type == "cart")
    times = [e.event_time_ms for e in events]
    assert min(times) == 1_511_658_000_000 and max(times) == 1_511_664_909_000


def test_replay_orders_by_event_time_and_scales_real_time(kafka_bootstrap: str, topic_factory, tmp_path: Path) -> None:
    topic = topic_factory("behavior.events")
    path = tmp_path / "ub.csv"
    path.write_text("1,1,1,pv,1511658010\n2,1,1,pv,1511658000\n3,1,1,cart,1511658004\nbroken\n4,1,1,pv,1511658020\n")
    waits: list[float] = []
    with EventPublisher(kafka_bootstrap, topic_overrides={BehaviorEvent: topic}) as publisher:
        report = replay(path, publisher, speed=100, limit=4, sleep=waits.append)
    assert (report.read, report.published, report.rejected) == (4, 3, 1)
    assert report.bad[0].line_no == 4
    # 10 s of event time at 100x is 0.1 s of waiting in total (each wait measured from the start)
    assert waits and max(waits) <= 0.1 + 1e-6 and max(waits) > 0.05
    messages = consume_all(kafka_bootstrap, topic, 3)
    assert [decode(m.value()).user_id for m in messages] == ["2", "3", "1"]
