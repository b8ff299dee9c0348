"""BatchConsumer: a message a stream skipped unprocessed (flow suspended while stopping) is never committed."""

from __future__ import annotations

from typing import Any

import faust
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams.fastpath.consumer import BatchConsumer, BatchRoutes


async def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _message(offset: int, *, tracked: bool) -> ConsumerMessage:
    message = ConsumerMessage("t-ack", 0, offset, 0, None, None, b"k", b"v", None)
    message.tracked = tracked  # a stream tracks each message it hands to an agent; a skipped one stays untracked
    return message


async def test_skipped_untracked_message_is_not_acked_but_a_processed_one_is() -> None:
    app = faust.App("t-ack-app", broker="kafka://127.0.0.1:9092")
    topic = app.topic("t-ack")
    app.topics.add(topic)
    await app.topics._update_indices()
    routed = type("Routed", (BatchConsumer,), {"routes": BatchRoutes()})
    consumer = routed(app.transport, callback=_nothing, on_partitions_revoked=_nothing,
                      on_partitions_assigned=_nothing)  # fmt: skip
    assert not consumer.ack(_message(5, tracked=False))
    assert consumer.ack(_message(6, tracked=True))
    assert list(consumer._acked[TP("t-ack", 0)]) == [6]  # offset 5 stays uncommitted: the next owner reads it
