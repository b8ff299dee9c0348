"""A fetched round goes to the engine in chunks, and a commit that falls due runs between two of them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from streams.fastpath.consumer import in_chunks


@pytest.mark.asyncio
async def test_a_commit_waiting_while_a_chunk_is_handled_runs_before_the_next_chunk() -> None:
    seen: list[str] = []
    due = asyncio.Event()

    async def commit() -> None:
        await due.wait()
        seen.append("commit")

    async def deliver(chunk: Sequence[int], last: bool) -> bool:
        seen.append(f"{chunk[0]}-{chunk[-1]}{' last' if last else ''}")
        due.set()  # the commit interval ends while this chunk is handled
        return True

    committer = asyncio.create_task(commit())
    await asyncio.sleep(0)
    await in_chunks(list(range(5_000)), 2_000, deliver, lambda: True)
    await committer
    assert seen == ["0-1999", "commit", "2000-3999", "4000-4999 last"]


@pytest.mark.asyncio
async def test_the_rest_of_a_round_is_dropped_once_it_is_no_longer_ours() -> None:
    chunks: list[int] = []

    async def deliver(chunk: Sequence[int], last: bool) -> bool:
        chunks.append(len(chunk))
        return True

    await in_chunks(list(range(5_000)), 2_000, deliver, lambda: len(chunks) < 2)
    assert chunks == [2_000, 2_000]

    async def refuse(chunk: Sequence[int], last: bool) -> bool:
        chunks.append(-len(chunk))
        return False

    await in_chunks(list(range(5_000)), 2_000, refuse, lambda: True)
    assert chunks[2:] == [-2_000]
