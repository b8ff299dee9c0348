"""Engine firings -> decision-layer firings, and the cancel keys a behaviour event closes; pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streams.decisions import Candidate
from streams.engine.config import Catalogue, Trigger
from streams.engine.durations import parse_duration
from streams.engine.firing import Firing
from streams.engine.matching import EventLike, event_field, matches
from streams.pipeline.errors import StartupError
from streams.pipeline.personalise import Personal

DEFAULT_MAX_DELAY_MS = 24 * 3_600_000  # a nudge more than a day late is no longer the moment it was for
# Trigger `data` keys read as delivery policy (they still travel with the firing's event fields).
PRIORITY, MAX_DELAY, TRANSACTIONAL = "priority", "max_delay", "transactional"
# Kinds whose deferred jobs a later event makes pointless: the stop/goal/activity they wait for happened.
CANCELLABLE = ("absence", "sequence", "inactivity")


@dataclass(frozen=True, slots=True)
class Policy:
    """How a trigger's firings compete for the budget and how long they may wait."""

    priority: int = 0
    transactional: bool = False
    max_delay_ms: int = DEFAULT_MAX_DELAY_MS


def policies(catalogue: Catalogue) -> dict[str, Policy]:
    """Each trigger's Policy from its `data`; a bad value raises StartupError naming the trigger and key."""
    out = {}
    for t in catalogue.triggers:
        where = f"triggers.{t.id}.data"
        try:
            priority = int(t.data.get(PRIORITY, 0))
        except ValueError:
            raise StartupError(f"{where}.{PRIORITY}: expected an integer, got {t.data[PRIORITY]!r}") from None
        try:
            max_delay = parse_duration(t.data[MAX_DELAY]) if MAX_DELAY in t.data else DEFAULT_MAX_DELAY_MS
        except ValueError:
            raise StartupError(
                f"{where}.{MAX_DELAY}: expected a duration like 12h, got {t.data[MAX_DELAY]!r}"
            ) from None
        flag = str(t.data.get(TRANSACTIONAL, "false")).lower()
        if flag not in ("true", "false"):
            raise StartupError(f"{where}.{TRANSACTIONAL}: expected true or false, got {t.data[TRANSACTIONAL]!r}")
        out[t.id] = Policy(priority, flag == "true", max_delay)
    return out


def cancel_prefix(trigger_id: str, user_id: str) -> str:
    """Every cancel key of one trigger for one user starts with this."""
    return f"{trigger_id}:{user_id}:"


def to_decision(firing: Firing, trigger: Trigger, policy: Policy, personal: Personal | None = None) -> Candidate:
    """The decision layer's view of an engine firing (same deterministic firing id), with what its copy shows."""
    personal = personal or Personal()
    cancel_key = None
    if trigger.kind in CANCELLABLE:
        # absence instances are "<correlation>@<due>": a stop with that correlation cancels only its reminder
        scope = firing.instance.rsplit("@", 1)[0] if trigger.kind == "absence" else trigger.kind
        cancel_key = cancel_prefix(trigger.id, firing.user_id) + scope
    return Candidate(
        firing_id=firing.id,
        user_id=firing.user_id,
        trigger_id=firing.trigger_id,
        event_time_ms=firing.at_ms,
        priority=policy.priority,
        transactional=policy.transactional,
        max_delay_ms=policy.max_delay_ms,
        cancel_key=cancel_key,
        event={**firing.data, "instance": firing.instance},
        cart=personal.cart,
        recommendations=personal.recommendations,
        item=personal.item,
    )


def cancels(triggers: Iterable[Trigger], event: EventLike) -> list[str]:
    """Cancel keys (or key prefixes, ending in ":") of deferred jobs this event makes pointless."""
    out = []
    for t in triggers:
        prefix = cancel_prefix(t.id, event.user_id)
        if t.kind == "absence" and matches(t.stop, event):
            corr = "user" if t.key == "user" else event_field(event, t.key)
            out.append(prefix if corr is None else prefix + str(corr))  # no correlation: every window
        elif _ends_wait(t, event):
            out.append(prefix)
    return out


def _ends_wait(trigger: Trigger, event: EventLike) -> bool:
    """A sequence's goal, or activity for an inactivity trigger: its deferred nudges are moot."""
    if trigger.kind == "sequence":
        return bool(trigger.goal.types) and matches(trigger.goal, event)
    return trigger.kind == "inactivity" and (not trigger.on.types or matches(trigger.on, event))


def keys_to_cancel(wanted: list[str], pending_keys: Iterable[str | None]) -> list[str]:
    """The pending cancel keys that `wanted` (exact keys or ":"-ending prefixes) hits, in first-seen order."""
    hit: dict[str, None] = {}
    for key in pending_keys:
        if key is not None and any(key == w or (w.endswith(":") and key.startswith(w)) for w in wanted):
            hit[key] = None
    return list(hit)
