"""Hypothesis garbage at a real `nudge collect` over HTTP: every answer is 202/400/413 with reasons, never a 5xx."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.hostile.counts import COUNTS
from tests.integration.hostile.payloads import INJECTIONS, TIMES, WEIRD
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[3]
NUDGE = str(Path(sys.executable).with_name("nudge"))
KEYS = ["k-first-0123456789", "k-second-9876543210"]
EXAMPLES = int(os.environ.get("NUDGE_HOSTILE_EXAMPLES", "150"))
MAX_BODY = 64 * 1024
ROUTES = {"/v1/events": "events", "/v1/profiles": "profiles", "/v1/devices": "devices"}

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(INJECTIONS + WEIRD[:-1] + ["\ud800", "\udfff", "a\ud83db"]),  # lone surrogates too
    st.text(max_size=30),
)
json_value = st.recursive(
    scalar,
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
    max_leaves=8,
)
event = st.fixed_dictionaries(
    {
        "event_id": st.one_of(st.text(max_size=10), scalar),
        "user_id": st.one_of(st.sampled_from(INJECTIONS + WEIRD[:-1]), scalar),
        "type": st.one_of(st.sampled_from(["view", "cart"]), scalar),
        "event_time_ms": st.one_of(st.sampled_from(TIMES), st.integers(), scalar),
    },
    optional={
        "properties": st.one_of(st.dictionaries(st.sampled_from([*INJECTIONS, "k"]), scalar, max_size=3), json_value),
        "context": json_value,
        "price": scalar,
        "bogus": scalar,
    },
)
profile = st.fixed_dictionaries(
    {"user_id": scalar, "updated_at_ms": st.one_of(st.sampled_from(TIMES), scalar)},
    optional={"first_name": st.sampled_from(INJECTIONS + WEIRD[:-1]), "time_zone": scalar, "attributes": json_value},
)
device = st.fixed_dictionaries(
    {
        "user_id": scalar,
        "token": scalar,
        "platform": st.one_of(st.sampled_from(["android", "ios", "web"]), scalar),
        "updated_at_ms": st.one_of(st.sampled_from(TIMES), scalar),
    },
)
items = {"/v1/events": event, "/v1/profiles": profile, "/v1/devices": device}


def body_for(route: str) -> st.SearchStrategy[bytes]:
    batch = st.lists(st.one_of(items[route], json_value), min_size=0, max_size=6)
    as_json = st.one_of(batch, batch.map(lambda b: {ROUTES[route]: b}), json_value).map(
        lambda v: json.dumps(v).encode()
    )
    raw = st.one_of(
        st.binary(max_size=200),
        st.sampled_from(
            [
                b"",
                b"[",
                b"\xff\xfe[]",
                b'[{"user_id": "\xed\xa0\x80"}]',
                b"[" + b"[" * 5000 + b"]" * 5000 + b"]",
                b'[{"user_id": "u"}]' + b" " * (MAX_BODY + 10),
                json.dumps([{"x": "y" * 100}] * 1000).encode(),
            ]
        ),
    )
    return st.one_of(as_json, as_json, raw)


@pytest.fixture(scope="module")
def collector(kafka_bootstrap: str, tmp_path_factory) -> Iterator[int]:
    port = free_port()
    log = tmp_path_factory.mktemp("collector") / "collect.log"
    env = {**os.environ, "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap, "NUDGE_COLLECTOR_API_KEYS": ",".join(KEYS),
           "NUDGE_TOPIC_PREFIX": f"hostile{port}.", "NUDGE_COLLECTOR_MAX_BODY_BYTES": str(MAX_BODY),
           "NUDGE_WEB_PORT": str(free_port())}  # fmt: skip
    proc = subprocess.Popen(
        [NUDGE, "collect", "--port", str(port)], env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    proc.log = log  # type: ignore[attr-defined]
    yield port
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, log.read_text()[-3000:]  # a clean stop after all that


def post(port: int, route: str, body: bytes, key: str | None = KEYS[1]) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    conn.request("POST", route, body=body, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    return resp.status, json.loads(raw)


@pytest.mark.parametrize("route", list(ROUTES))
def test_hostile_bodies_get_4xx_with_reasons_never_5xx(collector: int, route: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(body_for(route))
    def check(body: bytes) -> None:
        status, answer = post(collector, route, body)
        surface = f"collector {route}"
        COUNTS[(surface, "tried")] += 1
        assert status in (202, 400, 413), (status, answer, body[:300])
        if status == 202:
            assert answer["accepted"] >= 1 and all(e["error"] and e["kind"] for e in answer["errors"])
            COUNTS[(surface, "accepted")] += 1
        else:
            assert answer.get("error") or all(e["error"] and e["kind"] for e in answer["errors"]), answer
            COUNTS[(surface, "rejected")] += 1

    check()
    now = int(time.time() * 1000)
    valid = {"/v1/events": {"event_id": "e1", "user_id": "ok", "type": "view", "event_time_ms": now},
             "/v1/profiles": {"user_id": "ok", "updated_at_ms": now},
             "/v1/devices": {"user_id": "ok", "token": "t", "platform": "web", "updated_at_ms": now}}  # fmt: skip
    status, answer = post(collector, route, json.dumps([valid[route]]).encode())
    assert (status, answer["accepted"]) == (202, 1), answer  # still serving valid input after the garbage


def test_bad_keys_get_the_same_401_whichever_key_is_wrong(collector: int) -> None:
    answers = set()
    for key in [None, "", "k-first", KEYS[0] + "x", KEYS[0].upper(), "Bearer " + KEYS[0]]:
        status, answer = post(collector, "/v1/events", b"[]", key=key)
        assert status == 401
        answers.add(json.dumps(answer, sort_keys=True))
    assert len(answers) == 1  # the answer never says which key (or whether any) was close
    assert not any(k in next(iter(answers)) for k in KEYS)
