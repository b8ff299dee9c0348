"""The peers: a naive Faust agent (a table update per event) and a bare channel-iterating task.

Run as `python -m streams.bench.faust_peers worker` with BENCH_MODE=naive|bare; when
BENCH_COUNT events were seen it writes {"rate": events/s} to BENCH_RESULT_FILE.
"""

from __future__ import annotations

import os

import faust

from streams.app import create_app
from streams.bench.peer_process import RateCounter

MODE = os.environ.get("BENCH_MODE", "naive")
COUNT = int(os.environ.get("BENCH_COUNT", "0"))
RESULT_FILE = os.environ.get("BENCH_RESULT_FILE", "")

app = create_app(
    os.environ.get("BENCH_APP_ID", f"bench-{MODE}"),
    os.environ.get("NUDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
    data_dir=os.environ.get("BENCH_DATA_DIR", ".local/bench-faust"),
    web_port=int(os.environ.get("BENCH_WEB_PORT", "6067")),
    topic_partitions=int(os.environ.get("BENCH_PARTITIONS", "4")),
)
app.conf.consumer_auto_offset_reset = "earliest"
source = app.topic(
    os.environ.get("BENCH_TOPIC", "bench.events"), key_type=bytes, value_type=bytes, value_serializer="raw"
)
counts = app.Table("bench_counts", default=int)


progress = RateCounter(COUNT, RESULT_FILE)

if MODE == "naive":

    @app.agent(source)
    async def naive(stream: faust.StreamT) -> None:
        """Decode each event and update a changelog-backed table: the textbook Faust agent."""
        from schemas.codec import decode

        async for _key, value in stream.items():
            event = decode(value)
            counts[event.user_id] += 1
            progress.tick()

else:

    @app.task
    async def bare() -> None:
        """Iterate the topic's channel with no stream, table or decode: Faust's own ceiling."""
        async for event in source:
            progress.tick()
            event.ack()


if __name__ == "__main__":
    app.main()
