"""Why the attribution agents write their tables straight to the producer: Faust's buffer flush is not a drain."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.transport.producer import ProducerBuffer


class SlowBuffer(ProducerBuffer):
    """A producer buffer whose sends take longer than the flush's idle timeout (a loaded broker or event loop)."""

    async def _send_pending(self, fut: object) -> None:
        await asyncio.sleep(0.3)


async def test_faust_buffer_flush_returns_with_table_writes_still_queued() -> None:
    buffer = SlowBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    try:
        for i in range(3):
            buffer.put(i)  # type: ignore[arg-type]  # what `table[key] = value` queues for the changelog
        await buffer.flush()  # what the offset commit awaits before committing
        # Still queued when the commit would go ahead: `table[key] = value` is not durable before the offsets
        # that produced it are committed, so the plain attribution agents must not rely on it.
        assert buffer.size > 0
    finally:
        while not buffer.pending.empty():
            buffer.pending.get_nowait()  # its stop would flush (and fail) again
        await buffer.stop()
