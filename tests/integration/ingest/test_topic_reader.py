"""Reading a topic to its end on the real broker: what explain, report and tail share."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaException, Producer

from connectors.ingest.topic_reader import is_missing_topic, read_records, read_to_end
from schemas.codec import encode
from schemas.records import BehaviorEvent
from tests.support.records import event


def test_every_partition_is_read_to_the_end_it_had_when_the_read_began(kafka_bootstrap, topic_factory) -> None:
    topic = topic_factory("reader", partitions=3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i in range(30):
        producer.produce(topic, b"m%d" % i, key=b"k%d" % i, partition=i % 2)  # partition 2 stays empty
    assert producer.flush(10) == 0
    seen = []
    for msg in read_to_end({"bootstrap.servers": kafka_bootstrap}, topic, timeout_s=20):
        if not seen:  # published after the start: past the end the read aimed at
            producer.produce(topic, b"late", partition=0)
            assert producer.flush(10) == 0
        seen.append(msg.value())
    assert sorted(seen) == sorted(b"m%d" % i for i in range(30))


def test_a_partition_ending_in_a_transaction_marker_is_read_to_its_end(kafka_bootstrap, topic_factory) -> None:
    # The last offset of a transactional topic is a commit marker, never delivered as a message: a read that
    # waited for the message at end - 1 timed out here.
    topic = topic_factory("reader-tx")
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": f"tx-{topic}"})
    producer.init_transactions(60)  # the broker's first transaction creates its transaction log: slow on a busy box
    producer.begin_transaction()
    producer.produce(topic, b"in a transaction")
    producer.commit_transaction(60)
    started = time.monotonic()
    got = [m.value() for m in read_to_end({"bootstrap.servers": kafka_bootstrap}, topic, timeout_s=20)]
    assert got == [b"in a transaction"] and time.monotonic() - started < 10


def test_records_are_decoded_filtered_by_key_and_the_undecodable_counted(kafka_bootstrap, topic_factory) -> None:
    topic = topic_factory("reader-records")
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for user in ("ann", "bob", "ann"):
        producer.produce(topic, encode(event(user, "view", 1_700_000_000_000)), key=user.encode())
    producer.produce(topic, b"not avro", key=b"ann")
    producer.produce(topic, None, key=b"ann")  # a tombstone
    producer.produce(topic, b"not avro either", key=b"bob")  # skipped by key, never decoded
    assert producer.flush(10) == 0
    config = {"bootstrap.servers": kafka_bootstrap}
    records, bad = read_records(config, topic, BehaviorEvent, key=b"ann")
    assert [r.user_id for r in records] == ["ann", "ann"] and bad == 2
    kept, _ = read_records(config, topic, BehaviorEvent, keep=lambda r: r.user_id == "bob")
    assert [r.user_id for r in kept] == ["bob"]


def test_a_missing_topic_says_so(kafka_bootstrap, unique) -> None:
    with pytest.raises(KafkaException) as info:
        list(read_to_end({"bootstrap.servers": kafka_bootstrap}, f"missing.{unique}", timeout_s=5))
    assert is_missing_topic(info.value)
