"""`nudge tail` ends when asked (topic end, idle timeout, SIGTERM) and says why it printed nothing."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import Producer

from connectors.ingest.tail import tail
from schemas.codec import encode
from tests.support.records import event

NUDGE = str(Path(sys.executable).with_name("nudge"))


def fill(bootstrap: str, topic: str, n: int, start: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(start, start + n):
        producer.produce(topic, encode(event(f"u{i}", "view", 1_700_000_000_000)), key=f"u{i}".encode())
    assert producer.flush(10) == 0


def test_to_end_prints_what_is_there_and_returns(kafka_bootstrap, topic_factory) -> None:
    topic = topic_factory("tail.end", partitions=3)
    fill(kafka_bootstrap, topic, 7)
    out, notes = io.StringIO(), []
    printed = tail({"bootstrap.servers": kafka_bootstrap}, topic, out, from_beginning=True, to_end=True,
                   note=notes.append)  # fmt: skip
    assert printed == 7 and len(out.getvalue().splitlines()) == 7
    assert notes == [f"reading {topic} (3 partitions) from the beginning, to its current end"]


def test_nothing_printed_without_from_beginning_is_explained(kafka_bootstrap, topic_factory) -> None:
    topic = topic_factory("tail.note")
    fill(kafka_bootstrap, topic, 4)
    notes: list[str] = []
    assert tail({"bootstrap.servers": kafka_bootstrap}, topic, io.StringIO(), to_end=True, note=notes.append) == 0
    assert "4 earlier messages are skipped (--from-beginning)" in notes[0]
    assert notes[-1] == f"printed nothing: {topic} held 4 messages from before the start; --from-beginning prints them"


def test_an_idle_timeout_and_a_stop_request_end_a_live_tail(kafka_bootstrap, topic_factory) -> None:
    topic = topic_factory("tail.live")
    started = time.monotonic()
    assert tail({"bootstrap.servers": kafka_bootstrap}, topic, io.StringIO(), idle_timeout_s=1.0) == 0
    assert 1.0 <= time.monotonic() - started < 10
    stop, out = threading.Event(), io.StringIO()
    reader = threading.Thread(target=tail, args=({"bootstrap.servers": kafka_bootstrap}, topic, out),
                              kwargs={"stop": stop})  # fmt: skip
    reader.start()
    time.sleep(3)  # assigned at the end by now
    fill(kafka_bootstrap, topic, 2)
    deadline = time.monotonic() + 20
    while len(out.getvalue().splitlines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    reader.join(5)
    assert not reader.is_alive() and len(out.getvalue().splitlines()) == 2


def test_the_command_takes_the_name_without_the_prefix_and_stops_at_once_on_sigterm(
    kafka_bootstrap, topic_factory, tmp_path
) -> None:
    topic = topic_factory("tail.cmd")  # "tail.cmd.<hex>": the prefix is "tail.", the rest is what we type
    fill(kafka_bootstrap, topic, 3)
    env = {**os.environ, "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap, "NUDGE_TOPIC_PREFIX": "tail."}
    short = topic.removeprefix("tail.")
    done = subprocess.run([NUDGE, "tail", short, "--from-beginning", "--to-end"], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["topic"] for line in done.stdout.splitlines()] == [topic] * 3
    err = tmp_path / "tail.err"
    with err.open("w") as stderr:
        live = subprocess.Popen([NUDGE, "tail", topic], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + 60
    while "reading" not in err.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    live.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert live.wait(30) == 0 and time.monotonic() - started < 5, err.read_text()
