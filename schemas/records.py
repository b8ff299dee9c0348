"""The record contract as frozen dataclasses; schemas/*.avsc is the wire form of each."""

from __future__ import annotations

from dataclasses import dataclass, field

PropertyValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventContext:
    """Where an event happened: the client's platform and settings."""

    platform: str | None = None
    app_version: str | None = None
    locale: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BehaviorEvent:
    """One thing a user did (behavior.events, key user_id)."""

    event_id: str
    user_id: str
    type: str
    event_time_ms: int
    session_id: str | None = None
    item_id: str | None = None
    category: str | None = None
    creator: str | None = None
    price: float | None = None
    currency: str | None = None
    cart_id: str | None = None
    quantity: int | None = None
    job_id: str | None = None
    properties: dict[str, PropertyValue] = field(default_factory=dict)
    context: EventContext | None = None
    title: str | None = None
    image_url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserProfile:
    """The latest known profile of a user (user.profiles, compacted)."""

    user_id: str
    first_name: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    country: str | None = None
    platform: str | None = None
    signup_ms: int | None = None
    unsubscribed: bool = False
    opted_out_channels: list[str] = field(default_factory=list)
    opted_out_categories: list[str] = field(default_factory=list)
    max_per_week: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    updated_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceToken:
    """A push token of a user's device (device.tokens, compacted); active=False removes it."""

    user_id: str
    token: str
    platform: str
    app_id: str | None = None
    active: bool = True
    updated_at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogItem:
    """A catalog change: new arrival, back in stock, price drop, update (catalog.updates)."""

    item_id: str
    kind: str
    category: str | None = None
    creator: str | None = None
    title: str | None = None
    price: float | None = None
    previous_price: float | None = None
    currency: str | None = None
    image_url: str | None = None
    deep_link: str | None = None
    event_time_ms: int
    in_stock: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationJob:
    """A rendered notification for one user (notifications.jobs)."""

    job_id: str
    firing_id: str
    user_id: str
    trigger_id: str
    variant: str
    locale: str | None = None
    title: str
    body: str
    image_url: str | None = None
    deep_link: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    collapse_key: str | None = None
    priority: str
    ttl_seconds: int
    created_at_ms: int
    not_after_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationDecision:
    """Why a user did or did not get a notification (notifications.decisions)."""

    decision_id: str
    job_id: str
    firing_id: str
    user_id: str
    trigger_id: str
    variant: str | None = None
    outcome: str
    reason: str | None = None
    event_time_ms: int
    due_at_ms: int | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryResult:
    """The outcome of one delivery attempt (notifications.delivery)."""

    job_id: str
    user_id: str
    trigger_id: str
    variant: str | None = None
    provider: str
    token_hash: str | None = None
    status: str
    provider_message_id: str | None = None
    error_code: str | None = None
    attempt: int
    at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRetry:
    """A job waiting for another attempt, or given up (notifications.jobs.retry / .dlq)."""

    job: NotificationJob
    attempt: int
    due_at_ms: int
    last_error: str | None = None
    token_hashes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """An input record that failed decoding or validation, with its source coordinates."""

    source_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    error: str
    error_kind: str
    at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerMetrics:
    """Funnel and lift of one trigger x variant over an event-time window (analytics.trigger_metrics)."""

    trigger_id: str
    variant: str
    window_start_ms: int
    window_end_ms: int
    fired: int
    suppressed: dict[str, int] = field(default_factory=dict)
    holdout: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    retained: int
    holdout_converted: int
    lift: float | None = None
    lift_ci_low: float | None = None
    lift_ci_high: float | None = None
    updated_at_ms: int


RECORD_TYPES: tuple[type, ...] = (
    BehaviorEvent,
    UserProfile,
    DeviceToken,
    CatalogItem,
    NotificationJob,
    NotificationDecision,
    DeliveryResult,
    JobRetry,
    DeadLetter,
    TriggerMetrics,
)
