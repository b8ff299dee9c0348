"""The checkpoint's order: every output acknowledged, then state sent and acknowledged, then the local store
(at-least-once; Faust commits after) or the transaction's commit, then the local store (exactly-once)."""

from __future__ import annotations

import asyncio

import pytest

from streams.fastpath.checkpoint import Checkpoint


async def settle() -> None:
    """Let the checkpoint run as far as it can (gather resumes its waiter a few loop turns later)."""
    for _ in range(10):
        await asyncio.sleep(0)


class Recorder:
    """A stage that publishes one output and writes one changelog record, each acknowledged when the test says."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        self.output: asyncio.Future = asyncio.get_running_loop().create_future()
        self.changelog: asyncio.Future = asyncio.get_running_loop().create_future()

    async def publish(self) -> list[asyncio.Future]:
        self.log.append(f"{self.name} publish")
        return [self.output]

    async def write(self) -> list[asyncio.Future]:
        self.log.append(f"{self.name} write")
        return [self.changelog]

    def apply(self, marker: int) -> None:
        self.log.append(f"{self.name} apply +{marker}")


async def test_no_state_is_written_before_every_output_is_acknowledged() -> None:
    log: list[str] = []
    checkpoint = Checkpoint()
    engine, attribution = Recorder("engine", log), Recorder("attribution", log)
    checkpoint.register(engine)
    checkpoint.register(attribution)
    batch_output: asyncio.Future = asyncio.get_running_loop().create_future()
    checkpoint.sent([batch_output])
    run = asyncio.ensure_future(checkpoint.run())
    await settle()
    engine.output.set_result(None)
    attribution.output.set_result(None)
    await settle()
    assert log == ["engine publish", "attribution publish"]  # a batch's output is still in flight: no write yet
    batch_output.set_result(None)
    await settle()
    assert log[2:] == ["engine write", "attribution write"]
    assert not run.done()  # the changelog writes are not acknowledged yet: Faust must not commit offsets
    engine.changelog.set_result(None)
    attribution.changelog.set_result(None)
    await run
    assert log[4:] == ["engine apply +0", "attribution apply +0"]  # at-least-once: the store before Faust commits
    assert checkpoint.unconfirmed == []


def acknowledged_stage() -> tuple[Checkpoint, list[str]]:
    """A checkpoint with one stage whose output and changelog record the broker already acknowledged."""
    log: list[str] = []
    checkpoint = Checkpoint()
    stage = Recorder("engine", log)
    checkpoint.register(stage)
    stage.output.set_result(None)
    stage.changelog.set_result(None)
    return checkpoint, log


async def test_a_transaction_commits_before_the_local_store_gets_the_state() -> None:
    checkpoint, log = acknowledged_stage()

    async def commit() -> None:
        log.append("commit")

    await checkpoint.run(commit)
    assert log == ["engine publish", "engine write", "commit", "engine apply +1"]  # +1: the commit marker


async def test_a_failed_transaction_leaves_the_local_store_as_it_was() -> None:
    checkpoint, log = acknowledged_stage()

    async def commit() -> None:
        raise RuntimeError("fenced")

    with pytest.raises(RuntimeError, match="fenced"):
        await checkpoint.run(commit)
    assert log == ["engine publish", "engine write"]  # the changelog's records are aborted: the store never sees them


async def test_a_failed_output_fails_the_checkpoint_before_any_state_is_written() -> None:
    log: list[str] = []
    checkpoint = Checkpoint()
    stage = Recorder("engine", log)
    checkpoint.register(stage)
    failed: asyncio.Future = asyncio.get_running_loop().create_future()
    failed.set_exception(RuntimeError("broker gone"))
    checkpoint.sent([failed])
    stage.output.set_result(None)
    with pytest.raises(RuntimeError, match="broker gone"):
        await checkpoint.run()
    assert log == ["engine publish"]


async def test_at_least_once_the_store_gets_the_state_even_when_the_changelog_refused_it() -> None:
    log: list[str] = []
    checkpoint = Checkpoint()
    stage = Recorder("engine", log)
    checkpoint.register(stage)
    stage.output.set_result(None)
    stage.changelog.set_exception(RuntimeError("changelog refused"))
    with pytest.raises(RuntimeError, match="changelog refused"):
        await checkpoint.run()
    # the stage's memory moved on to what it sent: the store must follow, or the next reads go back in time
    assert log == ["engine publish", "engine write", "engine apply +0"]
