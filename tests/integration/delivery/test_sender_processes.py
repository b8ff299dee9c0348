"""FCM sends from sender processes: same outcomes as in-process, and a dead sender fails the chunk loudly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from connectors.delivery.errors import ProviderConfigError, ProviderUnavailable
from connectors.delivery.providers.base import Send
from connectors.delivery.providers.fcm_pool import FcmProcessPool
from connectors.stores.keys import token_hash
from tests.integration.delivery.conftest import PROJECT, aresults, job, produce, results, tail


def seed(env, devices: dict[str, list[str]]) -> None:
    """Write devices straight into the store: jobs never race the token consumer (which starts after the senders)."""
    client = redis.Redis.from_url(env.redis_url)
    now = int(time.time() * 1000)
    for user, device_tokens in devices.items():
        client.hset(f"{env.prefix}tokens:{user}", mapping={t: f"android||{now}" for t in device_tokens})
    client.close()


def sent_pairs(env) -> Counter:
    messages = env.fcm.call(lambda: list(env.fcm.fcm.state.accepted))
    return Counter((m["message"]["data"]["nudge_job_id"], m["message"]["token"]) for m in messages)


async def test_worker_with_sender_processes_fans_out_removes_and_retries(env, unique) -> None:
    seed(env, {"u1": ["a1", "i1"], "u2": ["a2"], "u3": ["gone"]})
    env.fcm.call(env.fcm.fcm.state.unregistered.add, "gone")
    # 429 (firebase-admin itself retries only 500/503): our retry topic must carry it.
    env.fcm.call(env.fcm.fcm.fail, "QUOTA_EXCEEDED", token="a2", count=1, retry_after_s=1)
    jobs = [job(f"j{i}", "u1" if i % 2 else "u2") for i in range(10)] + [job("j10", "u3")]
    async with env.worker(unique, fcm_sender_processes=2):
        produce(env.bootstrap, env.topics.jobs, jobs)
        found = await aresults(env.bootstrap, env.topics.delivery, 5 * 2 + 5 + 1 + 1, timeout=60)
    assert Counter(r.status for r in found) == {"sent": 15, "retry_scheduled": 1, "token_removed": 1}
    assert [r.token_hash for r in found if r.status == "token_removed"] == [token_hash("gone")]
    pairs = sent_pairs(env)
    assert len(pairs) == 15 and set(pairs.values()) == {1}  # every (job, device) exactly once
    assert {j for j, t in pairs if t == "a2"} == {f"j{i}" for i in range(0, 10, 2)}


async def test_chunk_answers_keep_the_order_of_the_sends(fcm, fcm_credentials) -> None:
    pool = FcmProcessPool(PROJECT, fcm_credentials, fcm.base_url, processes=3, lanes=2)
    await pool.start()
    try:
        fcm.call(fcm.fcm.state.unregistered.update, {"t3", "t6"})
        sends = [Send(job(f"j{i}", f"u{i}"), f"t{i}", "android") for i in range(8)]
        outcomes = await pool.send_batch(sends)
        assert [o.ok for o in outcomes] == [i not in (3, 6) for i in range(8)]
        assert outcomes[3].error_code == "UNREGISTERED" and outcomes[0].message_id
    finally:
        await pool.close()


async def test_senders_ignore_signals_to_the_group_and_exit_when_closed(fcm, fcm_credentials) -> None:
    pool = FcmProcessPool(PROJECT, fcm_credentials, fcm.base_url, processes=2, lanes=1)
    await pool.start()
    processes = [s.process for s in pool._senders]
    try:
        for process in processes:  # what Ctrl-C or a group-wide SIGTERM does: the worker drains first
            process.send_signal(signal.SIGINT)
            process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        outcomes = await pool.send_batch([Send(job(f"j{i}", f"u{i}"), f"t{i}", "android") for i in range(4)])
        assert all(o.ok for o in outcomes)
    finally:
        await pool.close()
    assert [p.returncode for p in processes] == [0, 0]


async def test_a_dead_sender_fails_the_chunk_instead_of_losing_it(fcm, fcm_credentials) -> None:
    pool = FcmProcessPool(PROJECT, fcm_credentials, fcm.base_url, processes=2, lanes=1)
    await pool.start()
    try:
        pool._senders[1].process.kill()
        pool._senders[1].process.wait(10)
        sends = [Send(job(f"j{i}", f"u{i}"), f"t{i}", "android") for i in range(4)]
        with pytest.raises(ProviderUnavailable, match="died"):
            await pool.send_batch(sends)
    finally:
        await pool.close()


async def test_unreadable_credentials_stop_the_start(fcm, tmp_path) -> None:
    pool = FcmProcessPool(PROJECT, str(tmp_path / "missing.json"), fcm.base_url, processes=1)
    started = time.monotonic()
    with pytest.raises(ProviderConfigError, match=r"missing\.json"):
        await pool.start()
    assert time.monotonic() - started < 60 and pool._senders == []


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def test_nudge_deliver_with_sender_processes_sends_once_and_stops_cleanly(env, unique) -> None:
    users = [f"u{i}" for i in range(20)]
    seed(env, {u: [f"{u}-a"] for u in users})
    produce(env.bootstrap, env.topics.jobs, [job(f"j{i}", u) for i, u in enumerate(users)])
    worker = env.spawn(unique, fcm_sender_processes=2)
    try:
        found = results(env.bootstrap, env.topics.delivery, 20, timeout=90)
        senders = children(worker.pid)
    finally:
        worker.terminate()
        code = worker.wait(30)
    assert code == 0, tail(worker)
    assert Counter(r.status for r in found) == {"sent": 20}
    assert len(senders) == 2 and not [p for p in senders if Path(f"/proc/{p}").exists()]
    assert set(sent_pairs(env).values()) == {1} and len(sent_pairs(env)) == 20
