"""Garbage on behavior.events lands in the DLQ with reasons while valid events keep flowing (real broker)."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from confluent_kafka import Producer
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from schemas.codec import decode, default_codec, encode
from schemas.records import BehaviorEvent, DeadLetter, DeviceToken
from schemas.topics import dlq_for
from tests.support.kafka import consume_all, create_topics, delete_topics
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 4000


def crafted(now: int) -> list[tuple[bytes, str]]:
    """Hand-made bad records and the reason each must be dead-lettered with."""
    good = BehaviorEvent(event_id="bad", user_id="u", type="view", event_time_ms=now)
    return [
        (b"", "empty_value"),
        (b'{"user_id": "u", "type": "view"}', "bad_framing"),
        (b"\xc3\x01" + b"\x13" * 8 + encode(good)[10:], "unknown_fingerprint"),
        (encode(good)[:-3], "bad_body"),
        (encode(dataclasses.replace(good, user_id="")), "missing_user_id"),
        (encode(dataclasses.replace(good, event_time_ms=1_511_658_000)), "absurd_timestamp"),
        (encode(dataclasses.replace(good, event_time_ms=now + 3 * 86_400_000)), "absurd_timestamp"),
        (encode(dataclasses.replace(good, properties={"blob": "x" * MAX_BYTES})), "oversized"),
        (encode(DeviceToken(user_id="u", token="t", platform="web", updated_at_ms=now)), "wrong_type"),
    ]


def metric_total(port: int, topic: str) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("nudge_dead_letters_total{") and f'topic="{topic}"' in line:
            reason = line.split('reason="')[1].split('"')[0]
            out[reason] = float(line.rsplit(" ", 1)[1])
    return out


# One generated batch of garbage drives one run of the whole pipeline; shrinking would re-run it.
@settings(max_examples=1, deadline=None, database=None, phases=[Phase.generate])
@given(garbage=st.lists(st.binary(min_size=1, max_size=300), min_size=40, max_size=40, unique=True))
def test_garbage_goes_to_the_dlq_and_valid_events_flow(kafka_bootstrap: str, kafka_admin, tmp_path_factory, garbage):
    tmp_path = tmp_path_factory.mktemp("dlq")
    app_id = f"dlq-{uuid.uuid4().hex[:8]}"
    in_topic, out_topic = f"{app_id}.behavior.events", f"{app_id}.out"
    topics = [in_topic, out_topic, dlq_for(in_topic)]
    create_topics(kafka_admin, topics, partitions=2)
    metrics_port = free_port()
    env = {
        **os.environ,
        "DLQ_APP_ID": app_id,
        "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "DLQ_IN_TOPIC": in_topic,
        "DLQ_OUT_TOPIC": out_topic,
        "DLQ_DATA_DIR": str(tmp_path / "data"),
        "DLQ_WEB_PORT": str(free_port()),
        "DLQ_METRICS_PORT": str(metrics_port),
        "DLQ_MAX_BYTES": str(MAX_BYTES),
    }
    log = tmp_path / "worker.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.apps.dlq_app", "worker", "-l", "warn"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        now = time.time_ns() // 1_000_000
        valid = [
            BehaviorEvent(event_id=f"ok{i}", user_id=f"u{i % 5}", type="view", event_time_ms=now + i) for i in range(60)
        ]
        # half the garbage carries a real header so decoding of corrupt bodies is exercised too
        header = b"\xc3\x01" + default_codec().fingerprint_of(BehaviorEvent)
        bad = [(g if i % 2 else header + g, None) for i, g in enumerate(garbage)] + crafted(now)
        sent: dict[tuple[int, int], bytes] = {}  # (partition, offset) -> bytes of each bad record

        def remember(err, msg):
            assert err is None, err
            sent[(msg.partition(), msg.offset())] = msg.value() or b""

        producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 5})
        # interleave so valid events must keep flowing past every kind of garbage
        for i in range(max(len(valid), len(bad))):
            if i < len(bad):
                producer.produce(in_topic, bad[i][0], key=f"bad{i}".encode(), on_delivery=remember)
            if i < len(valid):
                producer.produce(in_topic, encode(valid[i]), key=valid[i].user_id.encode())
        assert producer.flush(15) == 0
        time.sleep(1)
        assert proc.poll() is None, log.read_text()[-3000:]

        outputs = consume_all(kafka_bootstrap, out_topic, len(valid), timeout=120)
        assert sorted(decode(m.value()).event_id for m in outputs) == sorted(e.event_id for e in valid), (
            log.read_text()[-3000:]
        )
        letters = [decode(m.value(), DeadLetter) for m in consume_all(kafka_bootstrap, dlq_for(in_topic), len(bad), 60)]
        assert len(letters) == len(bad)
        assert {(d.partition, d.offset): d.value for d in letters} == sent  # original bytes, true coordinates
        assert all(d.source_topic == in_topic and d.error and d.key.startswith(b"bad") for d in letters)
        kinds = {d.value: d.error_kind for d in letters}
        assert {value: kinds[value] for value, _ in crafted(now)} == dict(crafted(now))
        counts = metric_total(metrics_port, in_topic)
        assert sum(counts.values()) == len(bad)
        assert counts["absurd_timestamp"] == 2 and counts["oversized"] == 1 and counts["wrong_type"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        delete_topics(kafka_admin, [*topics, f"{app_id}-__assignor-__leader"])
