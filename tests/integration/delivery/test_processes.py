"""Delivery workers as separate processes: a shared global rate limit, and no double send after a crash."""

from __future__ import annotations

import time
from collections import Counter

import redis

from tests.integration.delivery.conftest import job, produce, results, tail


def seed_tokens(env, users: list[str]) -> None:
    """Write devices straight into the store, so a job never races the token consumer."""
    client = redis.Redis.from_url(env.redis_url)
    now = int(time.time() * 1000)
    for user in users:
        client.hset(f"{env.prefix}tokens:{user}", mapping={f"{user}-a": f"android||{now}", f"{user}-w": f"web||{now}"})
    client.close()


def accepted(env) -> list[dict]:
    return env.fcm.call(lambda: list(env.fcm.fcm.state.accepted))


def test_no_double_send_when_a_worker_dies_between_send_and_commit(env, unique) -> None:
    users = [f"u{i}" for i in range(10)]
    seed_tokens(env, users)
    produce(env.bootstrap, env.topics.jobs, [job(f"j{i}", u) for i, u in enumerate(users)])
    crashed = env.spawn(unique, {"NUDGE_TEST_CRASH_AFTER_SEND": "1"}, delivery_burst=8)
    try:
        code = crashed.wait(20)
    except Exception:
        crashed.kill()
        seen = [(r.job_id, r.status) for r in results(env.bootstrap, env.topics.delivery, 100, timeout=3)]
        raise AssertionError(f"{env.fcm.call(env.fcm.fcm.stats)} {seen} {tail(crashed)}") from None
    assert code == 17, tail(crashed)
    before = len(accepted(env))
    assert before > 0  # it did send before dying
    survivor = env.spawn(unique, delivery_burst=8)
    try:
        found = results(env.bootstrap, env.topics.delivery, 20, timeout=60)
    finally:
        survivor.terminate()
        assert survivor.wait(30) == 0, tail(survivor)
    pairs = Counter((m["message"]["data"]["nudge_job_id"], m["message"]["token"]) for m in accepted(env))
    assert len(pairs) == 20 and set(pairs.values()) == {1}  # every (job, device) exactly once
    statuses = Counter(r.status for r in found)
    assert statuses == {"sent": 20 - before, "deduplicated": before}


def test_two_workers_together_stay_under_the_global_rate(env, unique) -> None:
    rate, burst, n = 100, 10, 300
    users = [f"u{i}" for i in range(n // 2)]
    seed_tokens(env, users)
    produce(env.bootstrap, env.topics.jobs, [job(f"j{i}", u) for i, u in enumerate(users)])
    workers = [env.spawn(unique, delivery_rate_per_second=rate, delivery_burst=burst) for _ in range(2)]
    try:
        deadline = time.monotonic() + 90
        while len(accepted(env)) < n and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # a late duplicate would show up here
    finally:
        for w in workers:
            w.terminate()
        codes = [w.wait(30) for w in workers]
    assert codes == [0, 0], [tail(w) for w in workers]
    pairs = Counter((m["message"]["data"]["nudge_job_id"], m["message"]["token"]) for m in accepted(env))
    assert len(pairs) == n and set(pairs.values()) == {1}
    times = sorted(m["at"] for m in accepted(env))
    # GCRA: at most burst + rate * t sends in any window of t seconds.
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t - start < 1.0)
        assert in_window <= burst + rate * 1.0 + 2, (i, in_window)  # +2: HTTP arrival jitter
    assert times[-1] - times[0] >= (n - burst) / rate * 0.95
