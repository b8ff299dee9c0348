"""The worker's producer keeps every topic it writes in its metadata, so a flush never waits on a lost leader."""

from __future__ import annotations

import asyncio
import warnings

from faust.exceptions import AlreadyConfiguredWarning

from streams.app import create_app
from tests.support.kafka import consume_all, create_topics, delete_topics


async def test_a_queued_message_is_flushed_after_another_topic_joins_the_metadata(
    kafka_bootstrap, kafka_admin, unique, tmp_path
) -> None:
    known, late = f"{unique}.known", f"{unique}.late"
    create_topics(kafka_admin, [known], 2)
    app = create_app(unique, kafka_bootstrap, data_dir=str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlreadyConfiguredWarning)
        app.conf.producer_linger = 0.5  # the message to `known` is still queued when `late` is added
    producer = app.producer
    await producer.start()
    try:
        # A fetch of all topics while none is tracked, as Faust's topic creation makes one: `known` is in it.
        await producer._ensure_producer().client.force_metadata_update()  # type: ignore[attr-defined]
        queued = await producer.send(known, b"user-1", b"queued", None, None, None)
        create_topics(kafka_admin, [late], 2)  # a topic this metadata has never seen
        await producer.send(late, b"user-1", b"late", None, None, None)
        await asyncio.wait_for(producer.flush(), 20)  # without tracking, `known` lost its leader: 20 minutes
        assert (await queued).topic == known
        assert [m.value() for m in consume_all(kafka_bootstrap, known, 1, 10)] == [b"queued"]
    finally:
        await asyncio.wait_for(producer.stop(), 20)  # stopping flushes too
        delete_topics(kafka_admin, [known, late])


async def test_a_created_topic_is_listed_and_stays_tracked_when_create_topic_returns(
    kafka_bootstrap, kafka_admin, unique, tmp_path
) -> None:
    created, late = f"{unique}.created", f"{unique}.late"
    app = create_app(unique, kafka_bootstrap, data_dir=str(tmp_path))
    producer = app.producer
    await producer.start()
    try:
        await producer.create_topic(created, 3, 1)
        client = producer._ensure_producer().client  # type: ignore[attr-defined]
        assert client.cluster.partitions_for_topic(created) == {0, 1, 2}  # a consumer subscribing now sees it
        create_topics(kafka_admin, [late], 1)
        await client.add_topic(late)  # tracking another topic ...
        assert client.cluster.partitions_for_topic(created) == {0, 1, 2}  # ... does not forget the created one
    finally:
        await asyncio.wait_for(producer.stop(), 20)
        delete_topics(kafka_admin, [created, late])
