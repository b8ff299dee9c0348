"""Deliver a batch of jobs: expiry, fan-out, idempotency, rate limit, send, classify, results/retries."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.delivery.prometheus import DeliveryMetrics, LabelCache
from connectors.delivery.providers.base import Provider, Send, SendResult
from connectors.delivery.verdicts import Verdict, backoff_ms, verdict
from connectors.stores.idempotency import IdempotencyStore
from connectors.stores.ratelimit import RateLimiter
from connectors.stores.tokens import Device, TokenStore
from schemas.records import DeliveryResult, JobRetry, NotificationJob


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A job to deliver now: attempt number and, on a retry, the devices still to send."""

    job: NotificationJob
    attempt: int = 1
    token_hashes: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 10
    base_ms: int = 1_000
    cap_ms: int = 300_000
    max_window_ms: int = 3_600_000  # no retry is scheduled later than created_at + this


@dataclass
class Outputs:
    """What one batch produced; the worker publishes it all and flushes before committing."""

    results: list[DeliveryResult] = field(default_factory=list)
    retries: list[JobRetry] = field(default_factory=list)
    dead: list[JobRetry] = field(default_factory=list)


@dataclass
class Prepared:
    """A batch ready to send: results already known (expired, no devices) and the (job, device) pairs to send."""

    out: Outputs
    pending: list[tuple[WorkItem, Device, Send]]
    now: int


class Deliverer:
    """The delivery logic shared by the jobs consumer and the retry consumer."""

    def __init__(
        self,
        provider: Provider,
        tokens: TokenStore,
        idempotency: IdempotencyStore,
        limiter: RateLimiter | None,
        metrics: DeliveryMetrics,
        retry: RetryPolicy,
        *,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
        rng: random.Random | None = None,
        crash_after_send: bool = False,
        replay: bool = False,
    ) -> None:
        self.provider = provider
        self.tokens = tokens
        self.idempotency = idempotency
        self.limiter = limiter
        self.metrics = metrics
        self.retry = retry
        self.clock = clock
        self.rng = rng or random.Random()
        self.crash_after_send = crash_after_send
        # Replay mode (history, simulations): jobs expire by the replayed stream's own time, the newest
        # created_at seen, as the stream worker's timers do; live mode uses the wall clock.
        self.replay = replay
        self.stream_time_ms = 0
        self._prepare = getattr(provider, "prepare", None)
        self._outcomes = LabelCache(metrics.outcomes)  # two counts per notification: children looked up once
        self._sends = LabelCache(metrics.sends)

    def _result(self, item: WorkItem, status: str, th: str | None = None, **extra: str | None) -> DeliveryResult:
        job = item.job
        self._outcomes(status).inc()
        return DeliveryResult(
            job_id=job.job_id,
            user_id=job.user_id,
            trigger_id=job.trigger_id,
            variant=job.variant,
            provider=self.provider.name,
            token_hash=th,
            status=status,
            attempt=item.attempt,
            at_ms=self.clock(),
            **extra,  # type: ignore[arg-type]
        )

    def job_now(self, items: list[WorkItem]) -> int:
        """The time job deadlines are judged by: the wall clock, or in replay the stream's time."""
        if not self.replay:
            return self.clock()
        self.stream_time_ms = max([self.stream_time_ms, *(i.job.created_at_ms for i in items)])
        return self.stream_time_ms

    async def handle(self, items: list[WorkItem]) -> Outputs:
        """Deliver `items`; every job ends with results and possibly a retry or DLQ record."""
        return await self.deliver(await self.prepare(items))

    async def prepare(self, items: list[WorkItem]) -> Prepared:
        """Expire what is late and look up every device (Redis reads only: nothing is claimed yet).

        The jobs consumer prepares its next batch while the current one is sent; a token removed by that
        send may still be in the next batch's devices, and FCM then answers UNREGISTERED again."""
        out = Outputs()
        now = self.job_now(items)
        live = []
        for item in items:
            if item.job.not_after_ms <= now:
                out.results.append(self._result(item, "expired"))
            else:
                live.append(item)
        devices = await self.tokens.devices(sorted({i.job.user_id for i in live}))
        pairs: list[tuple[WorkItem, Device]] = []
        for item in live:
            mine = [
                d for d in devices[item.job.user_id] if item.token_hashes is None or d.token_hash in item.token_hashes
            ]
            if not mine:
                out.results.append(self._result(item, "no_devices"))
            pairs.extend((item, d) for d in mine)
        sends = [Send(item.job, device.token, device.platform) for item, device in pairs]
        if sends and self._prepare is not None:
            sends = self._prepare(sends)  # encoded now; a send whose claim is lost later is simply dropped
        return Prepared(out, [(i, d, s) for (i, d), s in zip(pairs, sends, strict=True)], now)

    async def deliver(self, prepared: Prepared) -> Outputs:
        """Claim, send and settle the prepared devices chunk by chunk."""
        out, pending, now = prepared.out, prepared.pending, prepared.now
        # Claim chunk by chunk, right before its send: a crash leaves at most one chunk unconfirmed.
        step = min(self.provider.max_batch, self.limiter.burst if self.limiter else self.provider.max_batch)
        for start in range(0, len(pending), step):
            chunk = pending[start : start + step]
            ttls = [self.idempotency.ttl_ms(i.job.not_after_ms, now) for i, _, _ in chunk]
            claims = await self.idempotency.claim([(i.job.job_id, d.token_hash) for i, d, _ in chunk], ttls)
            to_send: list[tuple[WorkItem, Device, Send, int]] = []
            for (item, device, send), claim, ttl in zip(chunk, claims, ttls, strict=True):
                if claim.won:
                    to_send.append((item, device, send, ttl))
                    continue
                sent_id = claim.sent_message_id
                code = None if sent_id else "CLAIM_UNCONFIRMED"
                out.results.append(
                    self._result(item, "deduplicated", device.token_hash, provider_message_id=sent_id, error_code=code)
                )
            if to_send:
                await self._send_chunk(to_send, out)
        return out

    async def _acquire(self, cells: int) -> None:
        if self.limiter is None:
            return
        while (wait := await self.limiter.acquire(cells)) > 0:
            self.metrics.rate_limit_waits.labels(self.provider.name).inc()
            self.metrics.rate_limit_wait_seconds.labels(self.provider.name).inc(wait)
            await asyncio.sleep(wait)

    async def _send_chunk(self, chunk: list[tuple[WorkItem, Device, Send, int]], out: Outputs) -> None:
        await self._acquire(len(chunk))
        started = time.perf_counter()
        outcomes = await self.provider.send_batch([send for _, _, send, _ in chunk])
        self.metrics.batch_latency.labels(self.provider.name).observe(time.perf_counter() - started)
        if self.crash_after_send:
            os._exit(17)  # test hook: die after the provider accepted, before any marker or commit
        sent, released, gone = [], [], []
        retry_by_job: dict[str, tuple[WorkItem, list[str], list[SendResult]]] = {}
        fatal_by_job: dict[str, tuple[WorkItem, list[str], list[SendResult]]] = {}
        for (item, device, _, ttl), outcome in zip(chunk, outcomes, strict=True):
            th = device.token_hash
            v = verdict(outcome.ok, outcome.error_code)
            self._sends(self.provider.name, v.value).inc()
            if v is Verdict.SENT:
                sent.append((item.job.job_id, th, outcome.message_id or "", ttl))
                out.results.append(self._result(item, "sent", th, provider_message_id=outcome.message_id))
                continue
            released.append((item.job.job_id, th))
            if v is Verdict.TOKEN_GONE:
                gone.append((item.job.user_id, device.token))
                out.results.append(self._result(item, "token_removed", th, error_code=outcome.error_code))
            else:
                target = retry_by_job if v is Verdict.RETRY else fatal_by_job
                entry = target.setdefault(item.job.job_id, (item, [], []))
                entry[1].append(th)
                entry[2].append(outcome)
        await self.idempotency.mark_sent(sent)
        await self.idempotency.release(released)
        await self.tokens.remove_many(gone)
        for item, hashes, outcomes_ in fatal_by_job.values():
            code = outcomes_[0].error_code or "UNKNOWN"
            self.metrics.fatal.labels(self.provider.name, code).inc()
            out.results.extend(self._result(item, "failed", th, error_code=code) for th in hashes)
            out.dead.append(self._retry_record(item, item.attempt, hashes, outcomes_[0]))
        for item, hashes, outcomes_ in retry_by_job.values():
            self._schedule(item, hashes, outcomes_, out)

    def _retry_record(
        self, item: WorkItem, attempt: int, hashes: list[str], last: SendResult, due: int = 0
    ) -> JobRetry:
        error = f"{last.error_code}: {last.detail}" if last.detail else last.error_code
        return JobRetry(job=item.job, attempt=attempt, due_at_ms=due, last_error=error, token_hashes=sorted(hashes))

    def _schedule(self, item: WorkItem, hashes: list[str], outcomes: list[SendResult], out: Outputs) -> None:
        now = self.clock()
        retry_after = max((o.retry_after_s or 0.0 for o in outcomes), default=0.0) or None
        delay = backoff_ms(item.attempt, self.retry.base_ms, self.retry.cap_ms, retry_after, self.rng)
        due = now + delay
        deadline = min(item.job.not_after_ms, item.job.created_at_ms + self.retry.max_window_ms)
        code = outcomes[0].error_code
        if item.attempt < self.retry.max_attempts and self.job_now([item]) + delay < deadline:
            self.metrics.retries.labels(self.provider.name, code or "UNKNOWN").inc()
            out.retries.append(self._retry_record(item, item.attempt + 1, hashes, outcomes[0], due))
            out.results.extend(self._result(item, "retry_scheduled", th, error_code=code) for th in hashes)
        else:
            out.dead.append(self._retry_record(item, item.attempt, hashes, outcomes[0], now))
            out.results.extend(self._result(item, "dead_lettered", th, error_code=code) for th in hashes)
