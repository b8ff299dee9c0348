"""The one settings object, read from NUDGE_* environment variables by the composition root."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob Nudge reads from the environment; a bad value fails at start with its key."""

    model_config = SettingsConfigDict(env_prefix="NUDGE_", frozen=True, extra="ignore")

    app_id: str = "nudge"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: str = Field("PLAINTEXT", pattern="^(PLAINTEXT|SSL|SASL_PLAINTEXT|SASL_SSL)$")
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    schema_registry_url: str | None = None
    store: str = "memory://"
    data_dir: str = ".local/faust"
    web_port: int = Field(6066, ge=1, le=65535)
    web_bind: str = "127.0.0.1"  # 0.0.0.0 in a pod, so probes and Prometheus can reach /ready and /metrics
    group_instance_id: str | None = None  # static group membership (the pod name): no rebalance on restart
    topic_partitions: int = Field(4, ge=1)
    topic_prefix: str = ""
    triggers_file: str = "streams/triggers.yaml"
    decisions_file: str = "streams/templates/decisions.yaml"  # policies (caps, quiet hours, experiments) + templates
    replay: bool = False
    exit_when_caught_up: bool = False  # replay mode: stop (exit 0) once every input partition is committed to its end
    allowed_lateness_ms: int = Field(60_000, ge=0)
    # how often offsets are committed; the engine's changed states reach the changelog right before: longer =
    # fewer changelog writes (more coalescing), shorter = shorter pauses while a commit encodes them
    commit_interval_ms: int = Field(1000, ge=100)
    # at_least_once: outputs may repeat after a crash (same ids: delivery sends each push once); exactly_once: the
    # batch path's outputs, changelog writes and offsets commit in one Kafka transaction per commit interval, so
    # read_committed readers see each job and decision once, and see them at that commit (shorten the interval)
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    transactional_id: str | None = None  # exactly_once: stable per worker; default: app id, host name and web port
    tick_ms: int = Field(500, ge=50)  # live mode: how often idle partitions' stream time follows the wall clock
    attribution: bool = True  # feedback attribution + analytics.trigger_metrics in this worker; false = engine only
    # which behaviour events go to attribution: "touched" = only those of users this worker pushed (or held out)
    # within the attribution horizon, plus feedback carrying a job id; "all" = every one (decisions from elsewhere)
    attribution_events: Literal["touched", "all"] = "touched"
    progress_file: str | None = None  # the engine writes its processed-record count here (read by `nudge bench`)
    # decoded user records the stream worker keeps in memory (for every partition together; sizes estimated from
    # the stored bytes with factors measured by tracemalloc, see streams/pipeline/store.py); the
    # store holds everyone: memory is bounded by this, not by the number of users
    state_cache_mb: int = Field(256, ge=1)
    # ingestion: HTTP collector, producer SDK limits, dead letters
    collector_host: str = "127.0.0.1"
    collector_port: int = Field(8088, ge=1, le=65535)
    collector_api_keys: SecretStr | None = None  # comma-separated bearer keys; required by `nudge collect`
    collector_max_body_bytes: int = Field(1024 * 1024, ge=1024)
    collector_max_batch: int = Field(500, ge=1)
    # how long a batch may wait for room in a full producer queue (Kafka slow or down) before a 503 + Retry-After
    collector_queue_wait_ms: int = Field(1000, ge=0)
    ingest_max_record_bytes: int = Field(256 * 1024, ge=1024)
    ingest_compression: str = Field("zstd", pattern="^(none|gzip|snappy|lz4|zstd)$")
    ingest_linger_ms: int = Field(5, ge=0)
    ingest_queue_max_messages: int = Field(500_000, ge=1)  # records the producer holds for Kafka before pushing back
    dlq_max_value_bytes: int = Field(256 * 1024, ge=1024)
    # delivery: `nudge deliver` and `nudge fcm-local`
    delivery_provider: str = Field("fcm", pattern="^(fcm|webhook|console)$")
    delivery_group_id: str = "nudge-delivery"
    delivery_batch_size: int = Field(500, ge=1, le=5000)
    delivery_rate_per_second: float = Field(10_000.0, gt=0)  # global, shared by every worker (FCM: 600k/min)
    delivery_burst: int = Field(500, ge=1)  # cells granted at once; also caps one provider call
    # sends of one job before it is dead-lettered: with the default backoff 10 attempts ride out minutes of FCM
    # 5xx/429 (5 gave up after ~15-30 s); the retry window and the job's not_after bound it in time as well
    delivery_max_attempts: int = Field(10, ge=1)
    delivery_backoff_base_ms: int = Field(1_000, ge=1)
    delivery_backoff_max_ms: int = Field(300_000, ge=1)
    delivery_max_retry_window_s: int = Field(3_600, ge=1)  # no retry later than the job's creation + this
    delivery_metrics_port: int = Field(9101, ge=0, le=65535)
    delivery_metrics_host: str = "127.0.0.1"  # 0.0.0.0 in a pod, for probes and Prometheus
    delivery_redis_prefix: str = "nudge:"
    fcm_project_id: str | None = None  # defaults to the service account's project
    fcm_credentials_file: str | None = None  # else GOOGLE_APPLICATION_CREDENTIALS
    fcm_endpoint: str | None = None  # e.g. https://127.0.0.1:9099 for the local endpoint; unset = Google
    fcm_ca_file: str | None = None  # a CA to trust for the endpoint (the local one's); unset = the public roots
    # "lean": firebase-admin's messages, encoder, credentials and errors, sent by libcurl over HTTP/2 (~25x less
    # CPU per message); "firebase-admin": its own send_each_async (httpx), for comparison or as a fallback
    fcm_transport: Literal["lean", "firebase-admin"] = "lean"
    fcm_connections: int = Field(2, ge=1, le=16)  # lean transport: HTTP/2 connections, each multiplexing 100 streams
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None


def load_settings() -> Settings:
    """Read the settings once, at start-up."""
    return Settings()
