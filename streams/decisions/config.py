"""Decision config: budgets, quiet hours, experiments and per-trigger policy, parsed from a YAML dict."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from streams.decisions.errors import DecisionConfigError
from streams.decisions.templates import TemplateSet, load_templates
from streams.engine import durations

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Cap:
    """At most `max_count` jobs in a rolling `window_ms`."""

    max_count: int
    window_ms: int


@dataclass(frozen=True, slots=True)
class Budget:
    """The global per-user budget across all triggers."""

    cap: Cap = Cap(3, DAY_MS)
    min_gap_ms: int = 30 * MINUTE_MS


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local wall-clock window (minutes after midnight) in which nothing is sent; may wrap midnight."""

    start_minute: int = 22 * 60
    end_minute: int = 8 * 60
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Variant:
    """One experiment arm; None fields inherit the trigger's setting."""

    name: str
    weight: float = 1.0
    send_delay_ms: int | None = None
    send_hour: int | None = None
    abandonment_window_ms: int | None = None
    cap: Cap | None = None
    discount_code: str | None = None


@dataclass(frozen=True, slots=True)
class TriggerPolicy:
    """Per-trigger decision policy."""

    trigger_id: str
    category: str | None = None  # notification category the user can opt out of (e.g. "promotions")
    holdout_pct: float = 5.0
    experiment_version: int = 1
    variants: tuple[Variant, ...] = (Variant("default"),)
    cap: Cap | None = None
    reeligible_after_ms: int | None = None
    bypass_caps: bool = False  # high-priority triggers that skip the budget (like transactional firings)
    send_delay_ms: int = 0
    send_hour: int | None = None
    discount_code: str | None = None
    collapse_key: str | None = None
    ttl_ms: int | None = None
    await_profile_ms: int = 0  # how long (event time) a firing waits for a profile not read yet; 0: no wait


@dataclass(frozen=True, slots=True)
class DecisionConfig:
    """Everything `decide` needs besides the firing, the profile and the state."""

    budget: Budget = Budget()
    quiet_hours: QuietHours = QuietHours()
    on_budget_short: Literal["defer", "drop"] = "defer"  # defer: wait for budget (until max delay)
    max_pending: int = 5  # deferred jobs kept per user; the lowest priority beyond it expires
    default_time_zone: str = "UTC"
    default_locale: str = "en"
    default_currency: str = "EUR"  # prices without a currency of their own are in this one (ISO 4217)
    default_holdout_pct: float = 5.0
    channel: str = "push"
    high_priority_at: int = 50  # firing priority from which the push goes out with FCM "high" priority
    title_max_chars: int = 65
    body_max_chars: int = 240
    payload_max_bytes: int = 4096  # FCM's limit on a message payload
    triggers: dict[str, TriggerPolicy] = field(default_factory=dict)
    templates: TemplateSet = field(default_factory=TemplateSet)

    def policy(self, trigger_id: str) -> TriggerPolicy:
        """The trigger's policy, or the defaults (holdout on) for a trigger without one."""
        found = self.triggers.get(trigger_id)
        return found or TriggerPolicy(trigger_id, holdout_pct=self.default_holdout_pct)

    def horizon_ms(self) -> int:
        """How long sends must be remembered for every cap to be checked."""
        windows = [self.budget.cap.window_ms, self.budget.min_gap_ms, WEEK_MS]
        for p in self.triggers.values():
            windows += [c.window_ms for c in (p.cap, *(v.cap for v in p.variants)) if c]
        return max(windows)


def parse_duration(value: Any, key: str) -> int:
    """Milliseconds from an int (ms) or a string like "30m", "1h30m", "7d" (the triggers' grammar)."""
    try:
        return durations.parse_duration(value)
    except ValueError as exc:
        raise DecisionConfigError(f"{key}: {exc}") from None


def parse_clock(value: Any, key: str) -> int:
    """Minutes after midnight from "HH:MM"."""
    match = _CLOCK.match(str(value).strip())
    if not match:
        raise DecisionConfigError(f"{key}: expected a local time HH:MM, got {value!r}")
    return int(match.group(1)) * 60 + int(match.group(2))


def _pct(value: Any, key: str) -> float:
    try:
        pct = float(value)
    except (TypeError, ValueError):
        raise DecisionConfigError(f"{key}: expected a percentage, got {value!r}") from None
    if not 0 <= pct <= 100:
        raise DecisionConfigError(f"{key}: a percentage is between 0 and 100, got {value!r}")
    return pct


def _cap(raw: Any, key: str) -> Cap | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "max" not in raw or "per" not in raw:
        raise DecisionConfigError(f"{key}: expected {{max: N, per: 24h}}, got {raw!r}")
    max_count = raw["max"]
    if not isinstance(max_count, int) or isinstance(max_count, bool) or max_count < 1:
        raise DecisionConfigError(f"{key}.max: expected a positive integer, got {max_count!r}")
    return Cap(max_count, parse_duration(raw["per"], f"{key}.per"))


def _hour(raw: Any, key: str) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= 23:
        raise DecisionConfigError(f"{key}: expected an hour 0-23, got {raw!r}")
    return raw


def _variant(name: str, raw: dict[str, Any], key: str) -> Variant:
    weight = raw.get("weight", 1)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0:
        raise DecisionConfigError(f"{key}.weight: expected a positive number, got {weight!r}")
    return Variant(
        name=name,
        weight=float(weight),
        send_delay_ms=parse_duration(raw["send_delay"], f"{key}.send_delay") if "send_delay" in raw else None,
        send_hour=_hour(raw.get("send_hour"), f"{key}.send_hour"),
        abandonment_window_ms=(
            parse_duration(raw["abandonment_window"], f"{key}.abandonment_window")
            if "abandonment_window" in raw
            else None
        ),
        cap=_cap(raw.get("cap"), f"{key}.cap"),
        discount_code=raw.get("discount_code"),
    )


def _trigger(trigger_id: str, raw: dict[str, Any], default_holdout: float) -> TriggerPolicy:
    key = f"triggers.{trigger_id}"
    if not isinstance(raw, dict):
        raise DecisionConfigError(f"{key}: expected a mapping, got {raw!r}")
    raw_variants = raw.get("variants") or {"default": {}}
    if not isinstance(raw_variants, dict):
        raise DecisionConfigError(f"{key}.variants: expected a mapping of name -> settings")
    variants = tuple(_variant(str(n), v or {}, f"{key}.variants.{n}") for n, v in raw_variants.items())
    return TriggerPolicy(
        trigger_id=trigger_id,
        category=raw.get("category"),
        holdout_pct=_pct(raw.get("holdout_pct", default_holdout), f"{key}.holdout_pct"),
        experiment_version=int(raw.get("experiment_version", 1)),
        variants=variants,
        cap=_cap(raw.get("cap"), f"{key}.cap"),
        reeligible_after_ms=(
            parse_duration(raw["reeligible_after"], f"{key}.reeligible_after") if "reeligible_after" in raw else None
        ),
        bypass_caps=bool(raw.get("bypass_caps", False)),
        send_delay_ms=parse_duration(raw.get("send_delay", 0), f"{key}.send_delay"),
        send_hour=_hour(raw.get("send_hour"), f"{key}.send_hour"),
        discount_code=raw.get("discount_code"),
        collapse_key=raw.get("collapse_key"),
        ttl_ms=parse_duration(raw["ttl"], f"{key}.ttl") if "ttl" in raw else None,
        await_profile_ms=parse_duration(raw.get("await_profile", 0), f"{key}.await_profile"),
    )


def parse_config(raw: dict[str, Any]) -> DecisionConfig:
    """Build the config from its YAML mapping; a bad value raises DecisionConfigError naming its key."""
    if not isinstance(raw, dict):
        raise DecisionConfigError(f"decision config: expected a mapping, got {type(raw).__name__}")
    budget_raw = raw.get("budget", {}) or {}
    budget = Budget(
        cap=_cap({"max": budget_raw.get("max", 3), "per": budget_raw.get("per", "24h")}, "budget") or Cap(3, DAY_MS),
        min_gap_ms=parse_duration(budget_raw.get("min_gap", "30m"), "budget.min_gap"),
    )
    quiet_raw = raw.get("quiet_hours", {}) or {}
    quiet = QuietHours(
        start_minute=parse_clock(quiet_raw.get("start", "22:00"), "quiet_hours.start"),
        end_minute=parse_clock(quiet_raw.get("end", "08:00"), "quiet_hours.end"),
        enabled=bool(quiet_raw.get("enabled", True)),
    )
    zone = str(raw.get("default_time_zone", "UTC"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DecisionConfigError(f"default_time_zone: unknown IANA zone {zone!r}") from None
    policy = raw.get("on_budget_short", "defer")
    if policy not in ("defer", "drop"):
        raise DecisionConfigError(f"on_budget_short: expected 'defer' or 'drop', got {policy!r}")
    holdout = _pct(raw.get("default_holdout_pct", 5), "default_holdout_pct")
    triggers_raw = raw.get("triggers", {}) or {}
    if not isinstance(triggers_raw, dict):
        raise DecisionConfigError("triggers: expected a mapping of trigger id -> policy")
    limits = raw.get("limits", {}) or {}
    currency = str(raw.get("default_currency", "EUR"))
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise DecisionConfigError(f"default_currency: expected an ISO 4217 code like EUR, got {currency!r}")
    return DecisionConfig(
        budget=budget,
        quiet_hours=quiet,
        on_budget_short=policy,
        max_pending=int(raw.get("max_pending", 5)),
        default_time_zone=zone,
        default_locale=str(raw.get("default_locale", "en")),
        default_currency=currency,
        default_holdout_pct=holdout,
        channel=str(raw.get("channel", "push")),
        high_priority_at=int(raw.get("high_priority_at", 50)),
        title_max_chars=int(limits.get("title_chars", 65)),
        body_max_chars=int(limits.get("body_chars", 240)),
        payload_max_bytes=int(limits.get("payload_bytes", 4096)),
        triggers={str(t): _trigger(str(t), v or {}, holdout) for t, v in triggers_raw.items()},
        templates=load_templates(raw, str(raw.get("default_locale", "en"))),
    )


def load_config(path: str | Path) -> DecisionConfig:
    """Read and check the decisions YAML (policies and templates); errors name the file and key."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DecisionConfigError(f"{path}: cannot read decision config: {exc}") from None
    try:
        return parse_config(raw or {})
    except DecisionConfigError as exc:
        raise type(exc)(f"{path}: {exc}") from None
