"""The Quix Streams peer, run in its own venv: decode only, or decode + a per-user counter and cart check in state.

Run as `python streams/bench/quix_app.py` with the project root on PYTHONPATH (for `schemas.codec`, the
decode every peer uses) and BENCH_MODE=stateful|decode, BENCH_TOPIC, BENCH_COUNT, BENCH_RESULT_FILE,
BENCH_GROUP, BENCH_STATE_DIR, NUDGE_KAFKA_BOOTSTRAP. Once BENCH_COUNT events were seen it writes
{"rate": events/s} (first to last event) to BENCH_RESULT_FILE and stops.
"""

from __future__ import annotations

import os

from quixstreams import Application

from schemas.codec import decode
from streams.bench.peer_process import RateCounter

MODE = os.environ.get("BENCH_MODE", "stateful")
COUNT = int(os.environ["BENCH_COUNT"])
CART_WINDOW_MS = 30 * 60_000  # the example catalogue's cart abandonment window


def main() -> None:
    app = Application(
        broker_address=os.environ["NUDGE_KAFKA_BOOTSTRAP"],
        consumer_group=os.environ["BENCH_GROUP"],
        auto_offset_reset="earliest",
        state_dir=os.environ["BENCH_STATE_DIR"],
        loglevel="WARNING",
    )  # every other setting is Quix's default: RocksDB state, changelog topics, at-least-once, 5 s commits
    topic = app.topic(os.environ["BENCH_TOPIC"], key_deserializer="bytes", value_deserializer="bytes")
    progress = RateCounter(COUNT, os.environ["BENCH_RESULT_FILE"], on_done=app.stop)
    sdf = app.dataframe(topic)

    if MODE == "stateful":

        def count_and_check_cart(value: bytes, state) -> None:
            """The naive Faust peer's table update (a counter per user) plus an open cart kept or closed."""
            event = decode(value)
            state.set("count", state.get("count", 0) + 1)
            if event.type == "cart":
                state.set("cart_at", event.event_time_ms)
            elif event.type == "purchase":
                state.delete("cart_at")
            else:
                opened = state.get("cart_at")
                if opened is not None and event.event_time_ms - opened > CART_WINDOW_MS:
                    state.delete("cart_at")  # abandoned: the reminder would be sent here
                    state.set("abandoned", state.get("abandoned", 0) + 1)
            progress.tick()

        sdf.update(count_and_check_cart, stateful=True)
    else:

        def decode_only(value: bytes) -> None:
            decode(value)
            progress.tick()

        sdf.update(decode_only)
    app.run()


if __name__ == "__main__":
    main()
