"""The one checkpoint before every offset commit: outputs confirmed, then dirty state written, then offsets.

Stages (the engine with its decisions, attribution, the per-trigger boards) keep their state in memory
between commits and register here instead of each writing its own flush. At a commit, in this order:
1. every output the batches since the last checkpoint sent, and what each stage publishes once per
   checkpoint (coalesced counts, metrics), is acknowledged by the broker;
2. each stage sends its dirty state to its changelog, and those records are acknowledged;
3. the input offsets are committed: by Faust (at-least-once), or with every record above in one Kafka
   transaction (exactly-once);
4. each stage applies the same state to its local store (and records the changelog offset it reached).
At-least-once applies step 4 before step 3: a crash before 3 redoes the batches on top of the state they
already produced, which the stages tolerate, and re-sends the same deterministic ids (never loses one).
Exactly-once applies it only after the commit: a crash before it leaves the local store at the last committed
transaction, the changelog's aborted records are never read back, and the redo starts from committed state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol


class Stage(Protocol):
    """What a stage does at each checkpoint."""

    async def publish(self) -> list[asyncio.Future]:
        """Send what the stage publishes once per checkpoint; return the producer's futures."""
        ...

    async def write(self) -> list[asyncio.Future]:
        """Send the dirty state to the changelog; return the futures of those sends."""
        ...

    def apply(self, marker: int) -> None:
        """Write the state sent by `write` to the local store, with the changelog offset reached (the last record's,
        plus `marker`: 1 when a transaction's commit marker follows it)."""
        ...


class Checkpoint:
    """Runs the registered stages' checkpoint in the order above; tracks outputs sent between checkpoints."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []
        self.unconfirmed: list[asyncio.Future] = []
        self.took: Callable[[float], None] | None = None  # told the seconds of each checkpoint that completed

    def register(self, stage: Stage) -> None:
        self.stages.append(stage)

    def sent(self, futures: Iterable[asyncio.Future]) -> None:
        """Outputs a batch sent: acknowledged at the next checkpoint, before any state is written."""
        self.unconfirmed.extend(futures)

    async def run(self, commit_transaction: Callable[[], Awaitable[None]] | None = None) -> None:
        """Steps 1, 2 and 4; with `commit_transaction`, step 3 too, before 4 (Faust's commit follows otherwise)."""
        started = time.monotonic()
        await self._run(commit_transaction)
        if self.took is not None:
            self.took(time.monotonic() - started)

    async def _run(self, commit_transaction: Callable[[], Awaitable[None]] | None) -> None:
        pending, self.unconfirmed = self.unconfirmed, []
        for stage in self.stages:
            pending += await stage.publish()
        if pending:
            await asyncio.gather(*pending)
        writes: list[asyncio.Future] = []
        for stage in self.stages:
            writes += await stage.write()
        if commit_transaction is None:
            try:
                if writes:
                    await asyncio.gather(*writes)
            finally:  # the store gets the state even when the changelog refused it: what the stages read next
                self._apply(marker=0)
            return
        if writes:
            await asyncio.gather(*writes)
        await commit_transaction()
        self._apply(marker=1)

    def _apply(self, marker: int) -> None:
        for stage in self.stages:
            stage.apply(marker)
