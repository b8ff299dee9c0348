"""What reaches the phone: the real worker, `nudge deliver`, firebase-admin and the local FCM endpoint.

The scenario (tests/support/personalised.py) has one user per trigger kind. Its inputs go in by phases, each
delivered before the next, and the test reads the FCM requests the endpoint accepted: the item's title, price
with currency (old and new for a price drop), cart count and total, the picture, the name or copy without one.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from connectors.fcm_local.credentials import write_service_account
from connectors.fcm_local.thread import ThreadedLocalFcm
from schemas.codec import encode
from schemas.records import CatalogItem, DeliveryResult, NotificationJob, UserProfile
from tests.integration.pipeline.worker import NUDGE, ROOT, Worker, metric
from tests.support import personalised as scenario
from tests.support.kafka import create_topics
from tests.support.net import free_port

PARTITIONS = 2
DELIVERY_TOPICS = ["device.tokens", "notifications.jobs.retry", "notifications.jobs.dlq"]


@pytest.fixture
def fcm() -> Iterator[ThreadedLocalFcm]:
    server = ThreadedLocalFcm().start()
    yield server
    server.close()


@pytest.fixture
def stack(kafka_bootstrap: str, kafka_admin: Any, redis_url: str, redis_prefix: str, fcm: ThreadedLocalFcm,
          tmp_path: Path) -> Iterator[tuple[Worker, subprocess.Popen]]:  # fmt: skip
    triggers = (ROOT / "streams" / "triggers.yaml").read_text()
    worker = Worker(kafka_bootstrap, kafka_admin, tmp_path, triggers, scenario.decisions_yaml(), PARTITIONS)
    create_topics(kafka_admin, [worker.topic(t) for t in DELIVERY_TOPICS], PARTITIONS)
    worker.topics += [worker.topic(t) for t in DELIVERY_TOPICS]
    worker.start("worker")
    credentials = write_service_account(tmp_path / "sa.json", fcm.base_url, "nudge-test")
    port = free_port()
    env = {**os.environ, "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap, "NUDGE_TOPIC_PREFIX": worker.prefix,
           "NUDGE_REDIS_URL": redis_url, "NUDGE_DELIVERY_REDIS_PREFIX": redis_prefix, "NUDGE_REPLAY": "true",
           "NUDGE_FCM_ENDPOINT": fcm.base_url, "NUDGE_FCM_CA_FILE": str(fcm.ca_file),
           "NUDGE_FCM_CREDENTIALS_FILE": str(credentials),
           "NUDGE_FCM_PROJECT_ID": "nudge-test", "NUDGE_DELIVERY_METRICS_PORT": str(port)}  # fmt: skip
    log = (tmp_path / "deliver.log").open("ab")
    deliver = subprocess.Popen([str(NUDGE), "deliver", "--group-id", f"{worker.app_id}-deliver"], env=env, cwd=ROOT,
                               stdout=log, stderr=log)  # fmt: skip
    try:
        worker.wait_for("the worker to be ready", lambda: worker.get("/ready")[0] == 200, timeout=120)
        yield worker, deliver
    finally:
        deliver.terminate()
        try:
            deliver.wait(30)
        except subprocess.TimeoutExpired:
            deliver.kill()
        worker.close()


def produce(worker: Worker, records: list[Any], clock_ms: int) -> int:
    """Send records to their topics in order, then a clock event to every partition; the events sent."""
    producer = Producer({"bootstrap.servers": worker.bootstrap, "linger.ms": 5})
    events = 0
    for record in records:
        if isinstance(record, CatalogItem):
            producer.produce(worker.topic("catalog.updates"), encode(record), key=record.item_id.encode())
        elif isinstance(record, UserProfile):
            producer.produce(worker.topic("user.profiles"), encode(record), key=record.user_id.encode())
        else:
            producer.produce(worker.topic("behavior.events"), encode(record), key=record.user_id.encode())
            events += 1
    if clock_ms:
        for p in range(PARTITIONS):
            clock = scenario.event(f"clock-{p}", "view", clock_ms)
            producer.produce(worker.topic("behavior.events"), encode(clock), key=clock.user_id.encode(), partition=p)
            events += 1
    assert producer.flush(30) == 0
    return events


def settled(worker: Worker, events: int) -> bool:
    """The worker read every event sent so far, and every job it made has a delivery result."""
    status, body = worker.get("/metrics")
    if status != 200 or metric(body, "nudge_stream_events_in_total", topic=worker.topic("behavior.events")) < events:
        return False
    jobs = {j.job_id for j in worker.read("notifications.jobs", NotificationJob)}
    done = {r.job_id for r in worker.read("notifications.delivery", DeliveryResult) if r.status != "retry_scheduled"}
    return jobs <= done


def pushes_received(fcm: ThreadedLocalFcm) -> dict[tuple[str, str], dict[str, Any]]:
    """(user, trigger) -> the first message the endpoint accepted for it (title, body, image, whole message)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for accepted in fcm.call(lambda: list(fcm.fcm.state.accepted)):
        message = accepted["message"]
        user = message["token"].removeprefix("tok-")
        note = message["notification"]
        key = (user, message["data"]["trigger_id"])
        out.setdefault(key, {"title": note["title"], "body": note["body"], "image_url": note.get("image"),
                             "message": message})  # fmt: skip
    return out


def test_each_trigger_kinds_push_arrives_with_the_item_price_cart_name_and_picture(stack, fcm) -> None:
    worker, deliver = stack
    producer = Producer({"bootstrap.servers": worker.bootstrap})
    for user in scenario.USERS:
        producer.produce(worker.topic("device.tokens"), encode(scenario.token(user)), key=user.encode())
    assert producer.flush(30) == 0
    sent = 0
    for phase in scenario.phases():
        sent += produce(worker, phase.records, phase.clock_ms)
        deadline = time.monotonic() + 90
        while not settled(worker, sent):
            assert deliver.poll() is None, (
                "nudge deliver exited: " + (Path(worker.tmp) / "deliver.log").read_text()[-3000:]
            )
            assert time.monotonic() < deadline, f"phase {phase.name!r} not delivered in 90 s:\n{worker.logs()}"
            time.sleep(0.5)
    pushes = pushes_received(fcm)
    assert scenario.check(pushes) == [], sorted((k, v["title"], v["body"]) for k, v in pushes.items())
    # The picture reaches every platform's rich-notification option, not only the generic one.
    drop = pushes[("u-drop", "price_drop")]["message"]
    image = scenario.IMG.format("game-3007")
    assert drop["android"]["notification"]["image"] == image
    assert drop["apns"]["fcm_options"]["image"] == image and drop["apns"]["payload"]["aps"]["mutable-content"] == 1
    assert drop["webpush"]["notification"]["image"] == image
