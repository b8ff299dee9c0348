"""The pure decision layer: preferences, holdout, caps, quiet hours, templates, deterministic jobs."""

from streams.decisions.config import DecisionConfig, load_config, parse_config
from streams.decisions.experiments import Assignment, assign
from streams.decisions.ids import job_id_for, timer_key_for
from streams.decisions.model import Candidate, DecisionState, Outcome, Pending, Sent, TimerRequest
from streams.decisions.policy import cancel, decide, on_timer

__all__ = [
    "Assignment",
    "Candidate",
    "DecisionConfig",
    "DecisionState",
    "Outcome",
    "Pending",
    "Sent",
    "TimerRequest",
    "assign",
    "cancel",
    "decide",
    "job_id_for",
    "load_config",
    "on_timer",
    "parse_config",
    "timer_key_for",
]
