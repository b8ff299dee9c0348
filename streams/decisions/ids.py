"""Deterministic, process-stable ids and buckets (sha256, never Python's salted hash())."""

from __future__ import annotations

import hashlib


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def job_id_for(firing_id: str, variant: str) -> str:
    """The job id of a firing's job in a variant: the same on every replay, worker and restart."""
    return "j-" + _digest("job", firing_id, variant).hex()[:32]


def decision_id_for(job_id: str, outcome: str, at_ms: int) -> str:
    """The id of one decision about a job (a job can be deferred, then queued)."""
    return "d-" + _digest("decision", job_id, outcome, at_ms).hex()[:32]


def timer_key_for(job_id: str) -> str:
    """The timer-index key of a deferred job."""
    return f"decision:{job_id}"


def unit_interval(*parts: object) -> float:
    """A uniform number in [0, 1) from the parts, stable across processes."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64
