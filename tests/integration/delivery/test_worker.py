"""The delivery worker end to end: real Kafka, Redis, firebase-admin and the local FCM endpoint."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import redis

from connectors.stores.keys import token_hash
from schemas.codec import decode
from schemas.records import JobRetry
from tests.integration.delivery.conftest import aresults, job, produce, tokens
from tests.support.kafka import consume_all


def sent_pairs(env) -> Counter:
    messages = env.fcm.call(lambda: list(env.fcm.fcm.state.accepted))
    return Counter((m["message"]["data"]["nudge_job_id"], m["message"]["token"]) for m in messages)


async def test_fan_out_in_batches_to_every_device(env, unique) -> None:
    produce(env.bootstrap, env.topics.tokens, tokens("u1", ("a1", "android"), ("i1", "ios"), ("w1", "web")))
    produce(env.bootstrap, env.topics.tokens, tokens("u2", ("a2", "android")))
    jobs = [job(f"j{i}", "u1" if i % 2 else "u2") for i in range(40)]
    async with env.worker(unique):
        await asyncio.sleep(1.5)  # let the token consumer materialise device.tokens first
        produce(env.bootstrap, env.topics.jobs, jobs)
        found = await aresults(env.bootstrap, env.topics.delivery, 20 * 3 + 20)
    assert Counter(r.status for r in found) == {"sent": 80}
    pairs = sent_pairs(env)
    assert len(pairs) == 80 and set(pairs.values()) == {1}
    assert {t for (j, t) in pairs if j == "j1"} == {"a1", "i1", "w1"}
    message = env.fcm.call(lambda: env.fcm.fcm.state.accepted[0]["message"])
    assert message["android"]["collapse_key"] == "cart" and message["android"]["priority"] == "high"
    assert message["notification"]["image"] == "https://img.example/p.png"
    assert env.fcm.call(lambda: env.fcm.fcm.state.requests) == 80


async def test_dead_tokens_are_removed_and_reported(env, unique) -> None:
    produce(env.bootstrap, env.topics.tokens, tokens("u1", ("good", "android"), ("gone", "ios"), ("invalid-x", "web")))
    env.fcm.call(env.fcm.fcm.state.unregistered.add, "gone")
    async with env.worker(unique):
        await asyncio.sleep(1.5)
        produce(env.bootstrap, env.topics.jobs, [job("j1", "u1")])
        found = await aresults(env.bootstrap, env.topics.delivery, 3)
    by_hash = {r.token_hash: (r.status, r.error_code) for r in found}
    assert by_hash == {
        token_hash("good"): ("sent", None),
        token_hash("gone"): ("token_removed", "UNREGISTERED"),
        token_hash("invalid-x"): ("token_removed", "INVALID_TOKEN"),
    }
    client = redis.Redis.from_url(env.redis_url)
    assert client.hkeys(f"{env.prefix}tokens:u1") == [b"good"]
    client.close()


async def test_quota_exceeded_is_retried_after_retry_after(env, unique) -> None:
    produce(env.bootstrap, env.topics.tokens, tokens("u1", ("a1", "android")))
    env.fcm.call(env.fcm.fcm.fail, "QUOTA_EXCEEDED", count=1, retry_after_s=2)
    async with env.worker(unique):
        await asyncio.sleep(1.5)
        started = time.time()
        produce(env.bootstrap, env.topics.jobs, [job("j1", "u1")])
        found = await aresults(env.bootstrap, env.topics.delivery, 2)
    assert [(r.status, r.attempt, r.error_code) for r in found] == [
        ("retry_scheduled", 1, "QUOTA_EXCEEDED"),
        ("sent", 2, None),
    ]
    accepted_at = env.fcm.call(lambda: env.fcm.fcm.state.accepted[0]["at"])
    assert accepted_at - started >= 2.0  # Retry-After honoured, not our 100 ms backoff
    assert sent_pairs(env) == {("j1", "a1"): 1}


async def test_last_attempt_goes_to_the_dlq(env, unique) -> None:
    produce(env.bootstrap, env.topics.tokens, tokens("u1", ("a1", "android")))
    env.fcm.call(env.fcm.fcm.fail, "QUOTA_EXCEEDED", seconds=60)
    async with env.worker(unique, delivery_max_attempts=3):
        await asyncio.sleep(1.5)
        produce(env.bootstrap, env.topics.jobs, [job("j1", "u1")])
        found = await aresults(env.bootstrap, env.topics.delivery, 3)
        dead = await asyncio.to_thread(consume_all, env.bootstrap, env.topics.dlq, 1)
    assert [(r.status, r.attempt) for r in found] == [
        ("retry_scheduled", 1),
        ("retry_scheduled", 2),
        ("dead_lettered", 3),
    ]
    record = decode(dead[0].value(), JobRetry)
    assert record.job.job_id == "j1" and record.attempt == 3 and record.token_hashes == [token_hash("a1")]
    assert record.last_error.startswith("QUOTA_EXCEEDED")
    assert sent_pairs(env) == {}


async def test_fatal_errors_are_never_retried(env, unique) -> None:
    produce(env.bootstrap, env.topics.tokens, tokens("u1", ("a1", "android")))
    env.fcm.call(env.fcm.fcm.fail, "SENDER_ID_MISMATCH", count=1)
    async with env.worker(unique):
        await asyncio.sleep(1.5)
        produce(env.bootstrap, env.topics.jobs, [job("j1", "u1")])
        found = await aresults(env.bootstrap, env.topics.delivery, 1)
        dead = await asyncio.to_thread(consume_all, env.bootstrap, env.topics.dlq, 1)
        await asyncio.sleep(0.5)
    assert [(r.status, r.error_code) for r in found] == [("failed", "SENDER_ID_MISMATCH")]
    assert decode(dead[0].value(), JobRetry).attempt == 1
    assert env.fcm.call(lambda: env.fcm.fcm.state.requests) == 1


async def test_expired_jobs_are_recorded_not_sent(env, unique) -> None:
    produce(env.bootstrap, env.topics.tokens, tokens("u1", ("a1", "android")))
    old = job("j-old", "u1", now_ms=int(time.time() * 1000) - 7_200_000)
    async with env.worker(unique):
        await asyncio.sleep(1.5)
        produce(env.bootstrap, env.topics.jobs, [old, job("j-new", "u1")])
        found = await aresults(env.bootstrap, env.topics.delivery, 2)
    assert {(r.job_id, r.status) for r in found} == {("j-old", "expired"), ("j-new", "sent")}
    assert sent_pairs(env) == {("j-new", "a1"): 1}


async def test_replay_judges_expiry_by_the_streams_own_time(env, unique) -> None:
    """Replayed history: a day-old job still inside its TTL in stream time is sent, not expired."""
    produce(env.bootstrap, env.topics.tokens, tokens("u1", ("a1", "android")))
    day_ago = int(time.time() * 1000) - 86_400_000
    stale = job("j-stale", "u1", now_ms=day_ago - 7_200_000)  # expired 1 h before the next job was created
    fresh = job("j-fresh", "u1", now_ms=day_ago)
    async with env.worker(unique, replay=True):
        await asyncio.sleep(1.5)
        produce(env.bootstrap, env.topics.jobs, [fresh, stale])
        found = await aresults(env.bootstrap, env.topics.delivery, 2)
    assert {(r.job_id, r.status) for r in found} == {("j-stale", "expired"), ("j-fresh", "sent")}
    assert sent_pairs(env) == {("j-fresh", "a1"): 1}


async def test_no_devices_and_redelivery_are_recorded(env, unique) -> None:
    produce(env.bootstrap, env.topics.tokens, tokens("u1", ("a1", "android")))
    async with env.worker(unique):
        await asyncio.sleep(1.5)
        produce(env.bootstrap, env.topics.jobs, [job("j1", "u1"), job("j2", "nobody"), job("j1", "u1")])
        found = await aresults(env.bootstrap, env.topics.delivery, 3)
    assert Counter(r.status for r in found) == {"sent": 1, "no_devices": 1, "deduplicated": 1}
    assert sent_pairs(env) == {("j1", "a1"): 1}


async def test_undecodable_jobs_go_to_the_dlq_and_metrics_are_served(env, unique) -> None:
    import aiohttp
    from confluent_kafka import Producer

    from schemas.records import DeadLetter
    from streams.validation import check_record
    from tests.support.net import free_port

    produce(env.bootstrap, env.topics.tokens, tokens("u1", ("a1", "android")))
    port = free_port()
    async with env.worker(unique, metrics_port=port):
        await asyncio.sleep(1.5)
        producer = Producer({"bootstrap.servers": env.bootstrap})
        producer.produce(env.topics.jobs, b"not avro", key=b"u1")
        producer.flush(10)
        produce(env.bootstrap, env.topics.jobs, [job("j1", "u1")])
        found = await aresults(env.bootstrap, env.topics.delivery, 1)
        dead = await asyncio.to_thread(consume_all, env.bootstrap, env.topics.dlq, 1)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                metrics = await resp.text()
            async with http.get(f"http://127.0.0.1:{port}/ready") as resp:
                assert resp.status == 200
    assert [r.status for r in found] == ["sent"]
    letter = decode(dead[0].value(), DeadLetter)
    assert letter.value == b"not avro" and letter.source_topic == env.topics.jobs
    # The stream side's reason code for the same bytes, and its metric.
    stream_side = check_record(b"not avro", b"u1", topic=env.topics.jobs, partition=0, offset=0, now_ms=0)
    assert isinstance(stream_side, DeadLetter) and letter.error_kind == stream_side.error_kind == "bad_framing"
    assert f'nudge_dead_letters_total{{reason="bad_framing",topic="{env.topics.jobs}"}} 1.0' in metrics
    assert 'nudge_delivery_sends_total{provider="fcm",result="sent"} 1.0' in metrics
