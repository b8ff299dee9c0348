"""The Faust application factory: broker, store and web settings in one place."""

from __future__ import annotations

import faust

from streams.producer import track_topics


def create_app(
    app_id: str,
    broker: str,
    *,
    store: str = "memory://",
    data_dir: str = ".local/faust",
    web_port: int = 6066,
    web_bind: str = "127.0.0.1",
    group_instance_id: str | None = None,
    topic_partitions: int = 4,
    broker_credentials: object | None = None,
    commit_interval_s: float = 1.0,
) -> faust.App:
    """Build the Faust app; every table is changelog-backed and partitioned by user id."""
    app = faust.App(
        app_id,
        broker=f"kafka://{broker}" if "://" not in broker else broker,
        broker_credentials=broker_credentials,
        broker_commit_interval=commit_interval_s,
        store=store,
        datadir=data_dir,
        web_port=web_port,
        web_bind=web_bind,
        consumer_group_instance_id=group_instance_id,
        topic_partitions=topic_partitions,
        topic_replication_factor=1,
        autodiscover=False,
    )
    track_topics(app)
    return app
