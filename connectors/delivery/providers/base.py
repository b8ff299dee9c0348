"""The provider interface and the values that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from schemas.records import NotificationJob


@dataclass(frozen=True, slots=True)
class Send:
    """One job to one device; `payload` is the provider's encoded request when it prepared one ahead."""

    job: NotificationJob
    token: str
    platform: str
    payload: bytes | Exception | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider answered for one Send; error_code uses FCM's names."""

    ok: bool
    message_id: str | None = None
    error_code: str | None = None
    retry_after_s: float | None = None
    detail: str | None = None


class Provider(Protocol):
    """A push provider; `max_batch` bounds one send_batch call.

    A provider may also have `prepare(sends) -> sends` (with payloads): the worker calls it for a batch
    before its claims, while the previous chunk is still being sent, so encoding leaves the critical path."""

    name: str
    max_batch: int

    async def start(self) -> None: ...

    async def send_batch(self, sends: list[Send]) -> list[SendResult]: ...

    async def close(self) -> None: ...


def payload_data(job: NotificationJob) -> dict[str, str]:
    """The data map every provider sends: the job's data plus ids the app reports back on open."""
    data = dict(job.data)
    data["nudge_job_id"] = job.job_id
    data["nudge_trigger_id"] = job.trigger_id
    if job.deep_link:
        data["deep_link"] = job.deep_link
    return data
