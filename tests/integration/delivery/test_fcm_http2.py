"""Both FCM transports against the local endpoint's HTTPS/h2: stream limits, GOAWAY, resets, plain mode.

The invariants the worker's guarantees rest on: an `ok` outcome was accepted exactly once, and a failed
one was never accepted and is retried (so nothing is lost and nothing goes out twice)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from connectors.delivery.providers.base import Send, SendResult
from connectors.delivery.providers.fcm import FcmProvider
from connectors.delivery.providers.fcm_lean import LeanFcmProvider
from connectors.delivery.verdicts import Verdict, verdict
from connectors.fcm_local.credentials import write_service_account
from connectors.fcm_local.thread import ThreadedLocalFcm
from tests.integration.delivery.conftest import PROJECT, TRANSPORTS, job

PROVIDERS = {"lean": LeanFcmProvider, "firebase-admin": FcmProvider}


@pytest.fixture(params=TRANSPORTS)
async def provider(request, fcm, fcm_credentials) -> AsyncIterator[LeanFcmProvider | FcmProvider]:
    found = PROVIDERS[request.param](PROJECT, fcm_credentials, fcm.base_url, ca_file=fcm.ca_file)
    await found.start()
    yield found
    await found.close()


def sends(n: int, prefix: str = "t") -> list[Send]:
    return [Send(job(f"j-{prefix}{i}", f"u{i}"), f"{prefix}{i}", "android") for i in range(n)]


def accepted(fcm: ThreadedLocalFcm) -> Counter:
    return Counter(m["message"]["token"] for m in fcm.call(lambda: list(fcm.fcm.state.accepted)))


def check_invariants(batch: list[Send], outcomes: list[SendResult], fcm: ThreadedLocalFcm) -> list[int]:
    """Assert the invariants; return the positions that failed (to be retried)."""
    seen = accepted(fcm)
    failed = []
    for i, (send, outcome) in enumerate(zip(batch, outcomes, strict=True)):
        if outcome.ok:
            assert seen[send.token] == 1, (send.token, seen[send.token])
        else:
            assert seen[send.token] == 0 and verdict(False, outcome.error_code) is Verdict.RETRY, outcome
            failed.append(i)
    return failed


async def test_a_chunk_beyond_the_stream_limit_is_sent_once_each_over_h2(provider, fcm) -> None:
    batch = sends(500)  # five times the endpoint's 100 concurrent streams per connection
    outcomes = await provider.send_batch(batch)
    assert all(o.ok for o in outcomes) and check_invariants(batch, outcomes, fcm) == []
    stats = fcm.call(fcm.fcm.stats)
    connections = stats["connections"]
    # HTTP/2 negotiated by ALPN for the sends; only the OAuth token fetch (google-auth, requests) is HTTP/1.1.
    assert connections["h2"] >= 1 and connections.get("http/1.1", 0) <= stats["tokens_issued"]
    if isinstance(provider, LeanFcmProvider):
        assert connections["h2"] <= 2  # multiplexed over its two connections


async def test_goaway_mid_chunk_loses_nothing_and_sends_nothing_twice(provider, fcm) -> None:
    fcm.call(fcm.fcm.fail, connection="goaway", token="t250", count=1)
    batch = sends(500)
    outcomes = await provider.send_batch(batch)
    failed = check_invariants(batch, outcomes, fcm)
    if isinstance(provider, LeanFcmProvider):
        assert failed == []  # libcurl resends refused streams on a new connection: they were never processed
    retried = await provider.send_batch([batch[i] for i in failed])
    assert all(o.ok for o in retried)
    assert accepted(fcm) == Counter({s.token: 1 for s in batch})
    assert fcm.call(fcm.fcm.stats)["connection_faults"] == 1


async def test_connection_reset_mid_stream_fails_only_unanswered_sends_and_they_are_retried(provider, fcm) -> None:
    fcm.call(fcm.fcm.fail, connection="reset", token="t250", count=1)
    batch = sends(500)
    outcomes = await provider.send_batch(batch)
    failed = check_invariants(batch, outcomes, fcm)
    stats = fcm.call(fcm.fcm.stats)
    assert stats["connection_faults"] == 1
    if isinstance(provider, LeanFcmProvider) and not failed:
        # libcurl resends a request that got no byte of answer on a reused connection that died, over
        # another one (the endpoint resets before processing, so each is still accepted once: asserted above).
        assert stats["requests"] > len(batch), stats
    else:
        assert failed  # the streams in flight on it failed, and only those (check_invariants)
    retried = await provider.send_batch([batch[i] for i in failed])
    assert all(o.ok for o in retried)
    assert accepted(fcm) == Counter({s.token: 1 for s in batch})  # each exactly once after the retry


async def test_the_plain_http1_mode_still_serves_both_transports(tmp_path) -> None:
    plain = ThreadedLocalFcm(tls=False).start()
    try:
        assert plain.base_url.startswith("http://") and plain.ca_file is None
        creds = str(write_service_account(tmp_path / "sa.json", plain.base_url, PROJECT))
        for cls in PROVIDERS.values():
            provider = cls(PROJECT, creds, plain.base_url)
            await provider.start()
            try:
                outcomes = await provider.send_batch(sends(20, prefix=cls.__name__))
            finally:
                await provider.close()
            assert all(o.ok for o in outcomes)
        assert set(plain.call(plain.fcm.stats)["connections"]) == {"http/1.1"}
        assert plain.call(plain.fcm.stats)["accepted"] == 40
    finally:
        plain.close()


async def test_the_local_ca_is_required_verification_is_never_off(fcm, fcm_credentials) -> None:
    provider = LeanFcmProvider(PROJECT, fcm_credentials, fcm.base_url)  # no CA file: public roots only
    with pytest.raises(Exception, match="certificate"):
        await provider.start()  # the token endpoint's certificate is not trusted
    await provider.close()


async def test_a_401_refreshes_the_oauth_token_and_resends_once(provider, fcm) -> None:
    fcm.call(fcm.fcm.fail, "THIRD_PARTY_AUTH_ERROR", count=1)  # answered 401 UNAUTHENTICATED, never accepted
    batch = sends(1)
    outcomes = await provider.send_batch(batch)
    assert outcomes[0].ok and accepted(fcm) == Counter({batch[0].token: 1})
    assert fcm.call(fcm.fcm.stats)["tokens_issued"] == 2  # the start-up token, then one refresh
