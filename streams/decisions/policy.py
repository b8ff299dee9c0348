"""The decision pipeline: preferences -> holdout -> caps -> quiet hours -> render -> job."""

from __future__ import annotations

from dataclasses import replace

from schemas.records import NotificationDecision, NotificationJob, UserProfile
from streams.decisions.config import DecisionConfig, TriggerPolicy
from streams.decisions.context import template_context
from streams.decisions.errors import TemplateRenderError
from streams.decisions.experiments import HOLDOUT, assign, variant_cap
from streams.decisions.frequency import check_caps, record_send, reeligible
from streams.decisions.ids import decision_id_for, job_id_for, timer_key_for
from streams.decisions.localtime import next_send_hour, quiet_hours_end, zone_for
from streams.decisions.model import Candidate, DecisionState, Outcome, Pending, TimerRequest
from streams.decisions.templates import fit_payload, render_message, truncate


def _decision(
    firing: Candidate,
    job_id: str,
    variant: str | None,
    outcome: str,
    reason: str | None,
    now_ms: int,
    due_at_ms: int | None = None,
    **details: object,
) -> NotificationDecision:
    return NotificationDecision(
        decision_id=decision_id_for(job_id, outcome, now_ms),
        job_id=job_id,
        firing_id=firing.firing_id,
        user_id=firing.user_id,
        trigger_id=firing.trigger_id,
        variant=variant,
        outcome=outcome,
        reason=reason,
        event_time_ms=now_ms,
        due_at_ms=due_at_ms,
        details={"priority": str(firing.priority), **{k: str(v) for k, v in details.items() if v is not None}},
    )


def opt_out_reason(
    profile: UserProfile | None, policy: TriggerPolicy, firing: Candidate, config: DecisionConfig
) -> str | None:
    """Why the user's own preferences forbid this push, or None."""
    if profile is None:
        return None
    if profile.unsubscribed:
        return "unsubscribed"
    if config.channel in profile.opted_out_channels:
        return "opted_out_channel"
    categories = set(profile.opted_out_categories)
    if policy.category in categories or firing.event.get("category") in categories:
        return "opted_out_category"
    if profile.max_per_week == 0:
        return "opted_out_frequency"
    return None


def _job(
    firing: Candidate,
    variant: str,
    job_id: str,
    not_after_ms: int,
    profile: UserProfile | None,
    config: DecisionConfig,
    now_ms: int,
) -> NotificationJob:
    """Render the job; raises TemplateRenderError."""
    policy = config.policy(firing.trigger_id)
    code = assign(firing.user_id, firing.trigger_id, config).discount_code or firing.event.get("discount_code")
    locale = (profile.locale if profile else None) or (firing.event.get("locale") or None)
    msg = render_message(
        config.templates,
        firing.trigger_id,
        variant,
        locale,
        template_context(firing, profile, code, config.default_currency),
        config.title_max_chars,
        config.body_max_chars,
    )
    data = {"job_id": job_id, "trigger_id": firing.trigger_id, "variant": variant}
    if msg.deep_link:
        data["deep_link"] = msg.deep_link
    if code:
        data["discount_code"] = code
    body = fit_payload(msg.title, msg.body, msg.image_url, data, config.payload_max_bytes)
    ttl_ms = policy.ttl_ms if policy.ttl_ms is not None else not_after_ms - now_ms
    high = firing.transactional or firing.priority >= config.high_priority_at
    return NotificationJob(
        job_id=job_id,
        firing_id=firing.firing_id,
        user_id=firing.user_id,
        trigger_id=firing.trigger_id,
        variant=variant,
        locale=msg.locale,
        title=truncate(msg.title, config.title_max_chars),
        body=body,
        image_url=msg.image_url,
        deep_link=msg.deep_link,
        data=data,
        collapse_key=policy.collapse_key,
        priority="high" if high else "normal",
        ttl_seconds=max(ttl_ms // 1000, 60),
        created_at_ms=now_ms,
        not_after_ms=not_after_ms,
    )


def _defer(state: DecisionState, pending: Pending, config: DecisionConfig, now_ms: int) -> Outcome:
    """Park a job in the state and ask for a timer; beyond max_pending the least valuable expires."""
    firing = pending.firing
    others = [p for p in state.pending if p.job_id != pending.job_id]
    ranked = sorted([*others, pending], key=lambda p: (-p.firing.priority, p.due_at_ms, p.job_id))
    keep, evicted = ranked[: config.max_pending], ranked[config.max_pending :]
    decisions: list[NotificationDecision] = []
    timers: list[TimerRequest] = []
    if pending in keep:
        decisions.append(
            _decision(
                firing,
                pending.job_id,
                pending.variant,
                "deferred",
                pending.reason,
                now_ms,
                pending.due_at_ms,
                not_after_ms=pending.not_after_ms,
            )
        )
        timers.append(
            TimerRequest(firing.user_id, timer_key_for(pending.job_id), pending.due_at_ms, "set", firing.cancel_key)
        )
    for gone in evicted:
        decisions.append(_decision(gone.firing, gone.job_id, gone.variant, "expired", "superseded", now_ms))
        if gone is not pending:
            timers.append(TimerRequest(gone.firing.user_id, timer_key_for(gone.job_id), gone.due_at_ms, "cancel"))
    return Outcome(
        replace(
            state,
            pending=tuple(p for p in state.pending if p in keep and p is not pending)
            + ((pending,) if pending in keep else ()),
        ),
        decisions,
        [],
        timers,
    )


def _attempt(
    firing: Candidate,
    variant: str,
    profile: UserProfile | None,
    state: DecisionState,
    config: DecisionConfig,
    now_ms: int,
    earliest_ms: int,
    earliest_reason: str,
) -> Outcome:
    """Caps -> quiet hours -> render -> job, for a job not (or no longer) in the pending list."""
    policy = config.policy(firing.trigger_id)
    job_id = job_id_for(firing.firing_id, variant)
    not_after = firing.event_time_ms + firing.max_delay_ms
    none: list[NotificationJob] = []
    if now_ms > not_after:
        return Outcome(state, [_decision(firing, job_id, variant, "expired", "max_delay", now_ms)], none, [])
    if not reeligible(state, policy, now_ms):
        return Outcome(state, [_decision(firing, job_id, variant, "suppressed", "not_reeligible", now_ms)], none, [])
    due, reason = (earliest_ms, earliest_reason) if earliest_ms > now_ms else (now_ms, "")
    bypass = firing.transactional or policy.bypass_caps
    if not bypass:
        max_week = profile.max_per_week if profile else None
        check = check_caps(state, firing.trigger_id, variant_cap(policy, variant), config.budget, max_week, due)
        if check.reason is not None:
            if config.on_budget_short == "drop":
                return Outcome(
                    state,
                    [
                        _decision(
                            firing, job_id, variant, "suppressed", check.reason, now_ms, free_at_ms=check.free_at_ms
                        )
                    ],
                    none,
                    [],
                )
            due, reason = check.free_at_ms, check.reason
    zone = zone_for(profile.time_zone if profile else None, config.default_time_zone)
    quiet_end = quiet_hours_end(due, config.quiet_hours, zone)
    if quiet_end > due:
        due, reason = quiet_end, "quiet_hours"
    if due > not_after:
        return Outcome(
            state,
            [
                _decision(
                    firing,
                    job_id,
                    variant,
                    "expired",
                    "max_delay",
                    now_ms,
                    blocked_by=reason,
                    would_send_at_ms=due,
                    not_after_ms=not_after,
                )
            ],
            none,
            [],
        )
    if due > now_ms:
        return _defer(state, Pending(job_id, firing, variant, due, not_after, reason), config, now_ms)
    try:
        job = _job(firing, variant, job_id, not_after, profile, config, now_ms)
    except TemplateRenderError as exc:
        return Outcome(
            state,
            [_decision(firing, job_id, variant, "suppressed", "template_error", now_ms, error=str(exc)[:300])],
            none,
            [],
        )
    new_state = record_send(state, firing.trigger_id, not bypass, now_ms, config.horizon_ms())
    decision = _decision(firing, job_id, variant, "queued", None, now_ms, locale=job.locale, zone=zone.key)
    return Outcome(new_state, [decision], [job], [])


def decide(
    firing: Candidate, profile: UserProfile | None, state: DecisionState, config: DecisionConfig, now_ms: int
) -> Outcome:
    """Decide what happens to a firing: returns (new state, decisions, jobs to send, timer requests)."""
    policy = config.policy(firing.trigger_id)
    arm = assign(firing.user_id, firing.trigger_id, config)
    job_id = job_id_for(firing.firing_id, arm.variant)
    reason = opt_out_reason(profile, policy, firing, config)
    if reason:
        return Outcome(state, [_decision(firing, job_id, arm.variant, "suppressed", reason, now_ms)], [], [])
    if arm.holdout:
        return Outcome(state, [_decision(firing, job_id, HOLDOUT, "holdout", "control_group", now_ms)], [], [])
    earliest, why = now_ms + arm.send_delay_ms, "send_delay"
    if arm.send_hour is not None:
        zone = zone_for(profile.time_zone if profile else None, config.default_time_zone)
        at_hour = next_send_hour(earliest, arm.send_hour, zone)
        if at_hour > earliest:
            earliest, why = at_hour, "send_hour"
    return _attempt(firing, arm.variant, profile, state, config, now_ms, earliest, why)


def on_timer(
    key: str, profile: UserProfile | None, state: DecisionState, config: DecisionConfig, now_ms: int
) -> Outcome:
    """A deferred job's timer came due: every due job of the user is retried, most valuable first."""
    job_id = key.removeprefix("decision:")
    target = next((p for p in state.pending if p.job_id == job_id), None)
    if target is None or target.due_at_ms > now_ms:
        return Outcome(state, [], [], [])  # cancelled, already handled, or re-deferred: a stale timer
    due = sorted(
        (p for p in state.pending if p.due_at_ms <= now_ms), key=lambda p: (-p.firing.priority, p.due_at_ms, p.job_id)
    )
    state = replace(state, pending=tuple(p for p in state.pending if p.due_at_ms > now_ms))
    decisions: list[NotificationDecision] = []
    jobs: list[NotificationJob] = []
    timers: list[TimerRequest] = []
    for p in due:
        policy = config.policy(p.firing.trigger_id)
        reason = opt_out_reason(profile, policy, p.firing, config)
        if reason:
            out = Outcome(state, [_decision(p.firing, p.job_id, p.variant, "suppressed", reason, now_ms)], [], [])
        else:
            out = _attempt(p.firing, p.variant, profile, state, config, now_ms, now_ms, "")
        state = out.state
        decisions += out.decisions
        jobs += out.jobs
        timers += out.timers
        still_pending = any(q.job_id == p.job_id for q in state.pending)
        if p is not target and not still_pending:
            timers.append(TimerRequest(p.firing.user_id, timer_key_for(p.job_id), p.due_at_ms, "cancel"))
    return Outcome(state, decisions, jobs, timers)


def cancel(cancel_key: str, state: DecisionState, now_ms: int, reason: str = "cancelled") -> Outcome:
    """Cancel every deferred job carrying `cancel_key` (a purchase cancels its cart's reminder)."""
    hit = [p for p in state.pending if p.firing.cancel_key == cancel_key]
    if not hit:
        return Outcome(state, [], [], [])
    decisions = [_decision(p.firing, p.job_id, p.variant, "cancelled", reason, now_ms) for p in hit]
    timers = [TimerRequest(p.firing.user_id, timer_key_for(p.job_id), p.due_at_ms, "cancel", cancel_key) for p in hit]
    return Outcome(replace(state, pending=tuple(p for p in state.pending if p not in hit)), decisions, [], timers)
