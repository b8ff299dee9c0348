"""What each trigger kind does with an event or an elapsed timer; called by the Engine."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.engine.config import Trigger
from streams.engine.firing import Firing
from streams.engine.matching import EventLike, event_field, matches
from streams.engine.state import DAY_MS, MAX_WINDOWS, UserState

# Timer names inside a trigger's namespace ("<trigger>|<name>").
ANNIVERSARY = "ann"


def _fire(state: UserState, trigger: Trigger, instance: str, at_ms: int, extra: dict[str, str]) -> Firing:
    return Firing(state.user_id, trigger.id, instance, at_ms, {**trigger.data, **extra})


def on_event_kind(trigger: Trigger, state: UserState, event: EventLike, now_ms: int) -> list[Firing]:
    """Apply one event to one event-driven trigger (event, absence, inactivity, milestone, sequence)."""
    if trigger.kind == "event":
        return _event(trigger, state, event)
    if trigger.kind == "absence":
        return _absence(trigger, state, event, now_ms)
    if trigger.kind == "inactivity":
        _inactivity(trigger, state, event, now_ms)
    elif trigger.kind == "milestone":
        return _milestone(trigger, state, event)
    elif trigger.kind == "sequence":
        _sequence(trigger, state, event)
    return []


def _event(trigger: Trigger, state: UserState, event: EventLike) -> list[Firing]:
    if not matches(trigger.on, event):
        return []
    n = state.counts[trigger.id] = state.counts.get(trigger.id, 0) + 1
    if trigger.occurrence == "first":
        instance = "first" if n == 1 else ""
    elif trigger.occurrence == "nth":
        instance = f"n{n}" if n % trigger.nth == 0 else ""
    else:
        instance = f"e{event.event_id}"
    return [_fire(state, trigger, instance, event.event_time_ms, _context(event))] if instance else []


def _context(event: EventLike) -> dict[str, str]:
    """The event fields a firing carries to its message (the catalogue fills in the rest of the item)."""
    names = ("item_id", "category", "creator", "cart_id", "price", "currency", "title", "image_url")
    return {n: str(v) for n in names if (v := getattr(event, n, None)) is not None}


def _absence(trigger: Trigger, state: UserState, event: EventLike, now_ms: int) -> list[Firing]:
    prefix = f"{trigger.id}|"
    if matches(trigger.stop, event):
        corr = _correlation(trigger, event)
        # A stop without the correlation field (a purchase of the whole basket) cancels every window at once.
        doomed = [k for k in state.timers if k.startswith(prefix) and (corr is None or k == prefix + corr)]
        for key in doomed:
            del state.timers[key]
        return []
    if not matches(trigger.on, event):
        return []
    corr = _correlation(trigger, event) or "user"
    due = event.event_time_ms + trigger.within_ms
    if due <= now_ms:
        return []  # a late start whose window has already closed in stream time never fires
    extra = _context(event)
    state.timers[prefix + corr] = [due, f"{corr}@{due}", extra]
    return []


def _correlation(trigger: Trigger, event: EventLike) -> str | None:
    if trigger.key == "user":
        return "user"
    value = event_field(event, trigger.key)
    return None if value is None else str(value)


def _inactivity(trigger: Trigger, state: UserState, event: EventLike, now_ms: int) -> None:
    if trigger.on.types and not matches(trigger.on, event):
        return
    t = event.event_time_ms
    timers = state.timers
    for i, key, stage, extra in _stages(trigger):
        current = timers.get(key)
        if t + stage <= now_ms or (current is not None and current[0] - stage >= t):
            continue  # stale (late) activity, or newer activity already armed this stage
        timers[key] = [t + stage, f"{i}@{t}", extra]


_STAGES: dict[tuple[str, tuple[int, ...]], list[tuple[int, str, int, dict[str, str]]]] = {}


def _stages(trigger: Trigger) -> list[tuple[int, str, int, dict[str, str]]]:
    """(index, timer key, delay, timer extra) of each stage, built once per trigger; the extra dict is
    shared by every user's timer (read only: a firing copies it)."""
    found = _STAGES.get((trigger.id, trigger.stages_ms))
    if found is None:
        found = [
            (i, f"{trigger.id}|s{i}", stage, {"stage": str(i), "days": str(stage // DAY_MS)})
            for i, stage in enumerate(trigger.stages_ms)
        ]
        _STAGES[(trigger.id, trigger.stages_ms)] = found
    return found


def _milestone(trigger: Trigger, state: UserState, event: EventLike) -> list[Firing]:
    if trigger.mode == "anniversary" or not matches(trigger.on, event):
        return []
    t = event.event_time_ms
    if trigger.mode == "lifetime":
        n = state.counts[trigger.id] = state.counts.get(trigger.id, 0) + 1
        if n != int(trigger.threshold):
            return []
        return [_fire(state, trigger, f"n{n}", t, {**_context(event), "count": str(n)})]
    if trigger.mode == "streak":
        return _streak(trigger, state, t)
    value = 1.0 if trigger.mode == "count" else float(event_field(event, trigger.sum_field) or 0.0)
    windows = state.windows.setdefault(trigger.id, {})
    firings = []
    start = t - t % trigger.hop_ms
    while start > t - trigger.window_ms:
        before = windows.get(str(start), 0.0)
        after = windows[str(start)] = before + value
        if before < trigger.threshold <= after:
            extra = {**_context(event), "window_start_ms": str(start), "total": f"{after:.2f}"}
            firings.append(_fire(state, trigger, f"w{start}", t, extra))
        start -= trigger.hop_ms
    for old in sorted(windows, key=int)[:-MAX_WINDOWS]:
        del windows[old]
    return firings


def _streak(trigger: Trigger, state: UserState, t: int) -> list[Firing]:
    day = t // DAY_MS  # UTC days of event time: no dependence on the worker's time zone
    last, length = state.streaks.get(trigger.id, [-2, 0])
    if day <= last:
        return []
    length = length + 1 if day == last + 1 else 1
    state.streaks[trigger.id] = [day, length]
    if length == trigger.streak_days:
        return [_fire(state, trigger, f"d{day}", t, {"days": str(length)})]
    return []


def _sequence(trigger: Trigger, state: UserState, event: EventLike) -> None:
    prefix = f"{trigger.id}|"
    if trigger.id in state.sequences:
        if trigger.goal.types and matches(trigger.goal, event):
            for key in [k for k in state.timers if k.startswith(prefix)]:
                del state.timers[key]  # the goal exits the sequence: no further steps
        return
    if matches(trigger.on, event):
        start = state.sequences[trigger.id] = event.event_time_ms
        for i, step in enumerate(trigger.steps):
            state.timers[f"{prefix}{i}"] = [start + step.after_ms, f"{start}:{i}", {"step": str(i)}]


def arm_anniversary(trigger: Trigger, state: UserState, after_ms: int) -> None:
    """Set the timer for the next anniversary of the profile date strictly after `after_ms`."""
    origin = state.profile.get(trigger.date_field)
    if origin is None:
        return
    date = datetime.fromtimestamp(origin / 1000, UTC)
    year = max(datetime.fromtimestamp(after_ms / 1000, UTC).year, date.year + 1)
    while True:
        try:
            due = int(date.replace(year=year).timestamp() * 1000)
        except ValueError:  # 29 February in a common year: celebrate on 1 March
            due = int(date.replace(year=year, month=3, day=1).timestamp() * 1000)
        if due > after_ms:
            break
        year += 1
    state.timers[f"{trigger.id}|{ANNIVERSARY}"] = [due, f"y{year}", {"years": str(year - date.year)}]


def on_timer_kind(trigger: Trigger, state: UserState, name: str, due: int, instance: str, extra: dict) -> list[Firing]:
    """Turn an elapsed timer into firings (sequence steps check their conditions now)."""
    if trigger.kind == "sequence":
        step = trigger.steps[int(name)]
        start = state.sequences.get(trigger.id, 0)
        done = {k for k, v in state.last_by_type.items() if v >= start}
        if not set(step.if_done) <= done or set(step.unless_done) & done:
            return []
    if trigger.kind == "milestone" and name == ANNIVERSARY:
        arm_anniversary(trigger, state, due)
    return [_fire(state, trigger, instance, due, dict(extra))]
