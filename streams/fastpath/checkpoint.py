"""The one checkpoint before every offset commit: outputs confirmed, then dirty state written, then offsets.

Stages (the engine with its decisions, attribution, the per-trigger boards) keep their state in memory
between commits and register here instead of each writing its own flush. At a commit, in this order:
1. every output the batches since the last checkpoint sent, and what each stage publishes once per
   checkpoint (coalesced counts, metrics), is acknowledged by the broker;
2. each stage writes its dirty state to its store and changelog, and those writes are acknowledged;
3. Faust commits the input offsets (after flushing its producer).
A crash before 2 re-fires the same deterministic ids from the older state (never loses one); a crash
before 3 redoes the batches on top of the state they already produced, which the stages tolerate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol


class Stage(Protocol):
    """What a stage does at each checkpoint."""

    async def publish(self) -> list[asyncio.Future]:
        """Send what the stage publishes once per checkpoint; return the producer's futures."""
        ...

    async def write(self) -> list[asyncio.Future]:
        """Write the dirty state to the store and its changelog; return the futures of the changelog sends."""
        ...


class Checkpoint:
    """Runs the registered stages' checkpoint in the order above; tracks outputs sent between checkpoints."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []
        self.unconfirmed: list[asyncio.Future] = []

    def register(self, stage: Stage) -> None:
        self.stages.append(stage)

    def sent(self, futures: Iterable[asyncio.Future]) -> None:
        """Outputs a batch sent: acknowledged at the next checkpoint, before any state is written."""
        self.unconfirmed.extend(futures)

    async def run(self) -> None:
        pending, self.unconfirmed = self.unconfirmed, []
        for stage in self.stages:
            pending += await stage.publish()
        if pending:
            await asyncio.gather(*pending)
        writes: list[asyncio.Future] = []
        for stage in self.stages:
            writes += await stage.write()
        if writes:
            await asyncio.gather(*writes)
