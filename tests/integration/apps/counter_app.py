"""A minimal Faust app for stack tests: counts events per key in a changelog-backed table.

Each event on IN_TOPIC increments counts[key] and the new count is sent to OUT_TOPIC, so a
test can see whether the table was recovered from its changelog after a restart.
"""

from __future__ import annotations

import os

import faust

from streams.app import create_app

app = create_app(
    os.environ["COUNTER_APP_ID"],
    os.environ["NUDGE_KAFKA_BOOTSTRAP"],
    data_dir=os.environ["COUNTER_DATA_DIR"],
    web_port=int(os.environ["COUNTER_WEB_PORT"]),
    topic_partitions=2,
)
source = app.topic(os.environ["COUNTER_IN_TOPIC"], key_type=str, value_type=str, partitions=2)
sink = app.topic(os.environ["COUNTER_OUT_TOPIC"], key_type=str, value_type=str, partitions=2)
counts = app.Table("counts", default=int, partitions=2)


@app.agent(source)
async def count(stream: faust.StreamT) -> None:
    async for key, _value in stream.items():
        counts[key] += 1
        await sink.send(key=key, value=str(counts[key]))


if __name__ == "__main__":
    app.main()
