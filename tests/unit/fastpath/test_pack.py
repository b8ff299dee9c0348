"""Packed re-keyed records: they round-trip in order, split under the size limit, and land where Kafka would."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner

from schemas.codec import encode
from schemas.records import BehaviorEvent
from streams.fastpath.pack import MAGIC, KeyPartitioner, pack_entries, unpack_entries


def test_entries_round_trip_in_order_and_a_plain_record_is_one_entry() -> None:
    entries = [(1, b"u1", b"a"), (0, b"", b""), (255, "Zoë".encode(), b"\x00NPK1 looks packed"), (0, b"k", bytes(256))]
    (message,) = pack_entries(entries)
    assert unpack_entries(message) == entries
    single = encode(BehaviorEvent(event_id="e", user_id="u", type="view", event_time_ms=1_700_000_000_000))
    assert unpack_entries(single, b"u") == [
        (0, b"u", single)
    ]  # records re-keyed one per message (older workers) still read


def test_messages_split_under_the_chunk_size_but_keep_every_entry() -> None:
    entries = [(1, b"user", bytes([i % 251]) * 300) for i in range(100)]
    messages = pack_entries(entries, chunk_bytes=1_000)
    assert len(messages) == 34 and all(len(m) <= 1_000 for m in messages)
    assert [e for m in messages for e in unpack_entries(m)] == entries
    (big,) = pack_entries([(0, b"u", b"x" * 5_000)], chunk_bytes=1_000)  # an entry larger than a chunk travels alone
    assert unpack_entries(big) == [(0, b"u", b"x" * 5_000)]
    assert pack_entries([]) == []


def test_a_truncated_message_is_an_error_not_a_silent_loss() -> None:
    (message,) = pack_entries([(0, b"u", b"abc"), (0, b"u", b"defg")])
    assert message.startswith(MAGIC)
    with pytest.raises(ValueError, match="truncated"):
        unpack_entries(message[:-1])


@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_the_partition_is_the_one_the_producer_would_choose_for_the_key(partitions: int) -> None:
    partition_of = KeyPartitioner(partitions)
    everyone = list(range(partitions))
    for user in ["u1", "u2", "ann", "Zoë", "1000042", "", "u" * 200]:
        assert partition_of(user) == DefaultPartitioner()(user.encode(), everyone, everyone)
        assert partition_of(user) == partition_of(user)  # memoised
