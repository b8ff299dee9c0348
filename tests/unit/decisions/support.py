"""Builders shared by the decision tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.records import UserProfile
from streams.decisions import Candidate, DecisionConfig, parse_config

BASE_TEMPLATES: dict[str, Any] = {
    "t": {
        "default": {
            "en": {
                "title": "Hi{% if first_name %} {{ first_name }}{% endif %}",
                "body": "Body for {{ event.get('item_id', 'x') }}",
            }
        }
    },
    "urgent": {"default": {"en": {"title": "Now", "body": "Act now"}}},
    "low": {"default": {"en": {"title": "Low", "body": "Low"}}},
}


def ms(iso: str) -> int:
    """Epoch ms of a UTC ISO time."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


def config(**overrides: Any) -> DecisionConfig:
    """A config with no holdout, no quiet hours and a roomy budget unless a test says otherwise."""
    raw: dict[str, Any] = {
        "default_holdout_pct": 0,
        "quiet_hours": {"enabled": False},
        "budget": {"max": 10, "per": "24h", "min_gap": 0},
        "templates": BASE_TEMPLATES,
    }
    raw.update(overrides)
    return parse_config(raw)


def profile(user_id: str = "u1", **fields: Any) -> UserProfile:
    return UserProfile(user_id=user_id, updated_at_ms=0, **fields)


NOON = ms("2024-06-01T12:00")


def firing(user_id: str = "u1", trigger_id: str = "t", at_ms: int = NOON, n: int | str = 1, **fields: Any) -> Candidate:
    return Candidate(
        firing_id=f"{trigger_id}:{user_id}:{n}", user_id=user_id, trigger_id=trigger_id, event_time_ms=at_ms, **fields
    )
