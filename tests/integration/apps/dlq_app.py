"""A Faust app for the dead-letter test: valid events to OUT_TOPIC, everything else to <in>.dlq.

It uses streams/validation.py exactly as the stream agents do and counts dead letters in
nudge_dead_letters_total{topic,reason}, served on 127.0.0.1:DLQ_METRICS_PORT.
"""

from __future__ import annotations

import os
import time

import faust
from prometheus_client import CollectorRegistry, start_http_server

from schemas.codec import encode
from schemas.records import DeadLetter
from schemas.topics import dlq_for
from streams.app import create_app
from streams.validation import check_record, dead_letter_counter

IN_TOPIC = os.environ["DLQ_IN_TOPIC"]
MAX_BYTES = int(os.environ["DLQ_MAX_BYTES"])
registry = CollectorRegistry()
dead_letters = dead_letter_counter(registry)

app = create_app(
    os.environ["DLQ_APP_ID"],
    os.environ["NUDGE_KAFKA_BOOTSTRAP"],
    data_dir=os.environ["DLQ_DATA_DIR"],
    web_port=int(os.environ["DLQ_WEB_PORT"]),
    topic_partitions=2,
)
raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
source = app.topic(IN_TOPIC, partitions=2, **raw)
sink = app.topic(os.environ["DLQ_OUT_TOPIC"], partitions=2, **raw)
dlq = app.topic(dlq_for(IN_TOPIC), partitions=2, **raw)


@app.agent(source)
async def route(stream: faust.StreamT) -> None:
    async for event in stream.events():
        message = event.message
        result = check_record(
            event.value,
            event.key,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            now_ms=time.time_ns() // 1_000_000,
            max_value_bytes=MAX_BYTES,
        )
        if isinstance(result, DeadLetter):
            dead_letters.labels(message.topic, result.error_kind).inc()
            await dlq.send(key=event.key, value=encode(result))
        else:
            await sink.send(key=event.key, value=encode(result))


if __name__ == "__main__":
    start_http_server(int(os.environ["DLQ_METRICS_PORT"]), addr="127.0.0.1", registry=registry)
    app.main()
