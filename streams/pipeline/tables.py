"""Table writes from batch agents: put each write in the partition of the message it came from."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator

import faust
from faust.streams import _current_event  # the context table writes read their partition from


@contextlib.contextmanager
def in_partition_of(event: faust.EventT) -> Iterator[None]:
    """Make table writes land in this event's partition (batches mix partitions)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
