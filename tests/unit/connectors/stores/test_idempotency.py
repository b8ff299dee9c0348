"""Claims and sent markers on the real Redis."""

from __future__ import annotations

from connectors.stores.idempotency import IdempotencyStore


async def test_only_one_worker_wins_a_claim_and_sees_the_sent_marker(redis, redis_prefix) -> None:
    a = IdempotencyStore(redis, "a", redis_prefix)
    b = IdempotencyStore(redis, "b", redis_prefix)
    assert [c.won for c in await a.claim([("j1", "h1"), ("j1", "h2")], [60_000, 60_000])] == [True, True]
    lost = await b.claim([("j1", "h1")], [60_000])
    assert not lost[0].won and lost[0].existing == "claimed:a" and lost[0].sent_message_id is None
    await a.mark_sent([("j1", "h1", "projects/p/messages/1", 60_000)])
    again = await b.claim([("j1", "h1")], [60_000])
    assert again[0].sent_message_id == "projects/p/messages/1"


async def test_release_drops_only_our_own_claim(redis, redis_prefix) -> None:
    a = IdempotencyStore(redis, "a", redis_prefix)
    b = IdempotencyStore(redis, "b", redis_prefix)
    await a.claim([("j1", "h1")], [60_000])
    await b.release([("j1", "h1")])  # not b's claim: stays
    assert not (await b.claim([("j1", "h1")], [60_000]))[0].won
    await a.release([("j1", "h1")])
    assert (await b.claim([("j1", "h1")], [60_000]))[0].won


def test_markers_outlive_the_job() -> None:
    assert IdempotencyStore.ttl_ms(not_after_ms=10_000, now_ms=0) > 10_000
    assert IdempotencyStore.ttl_ms(not_after_ms=0, now_ms=10_000) >= 60_000
