"""The one settings object, read from NUDGE_* environment variables by the composition root."""

from __future__ import annotations

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
    topic_partitions: int = Field(4, ge=1)
    topic_prefix: str = ""
    triggers_file: str = "streams/triggers.yaml"
    replay: bool = False
    allowed_lateness_ms: int = Field(60_000, ge=0)


def load_settings() -> Settings:
    """Read the settings once, at start-up."""
    return Settings()
