"""How a simulated user answers a push: open, click, convert, with rates set by variant, timing and relevance."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.simulator.personas import SimUser

# Triggers whose goal is coming back, not buying: the click (an app open) is the conversion.
RETURN_GOAL = frozenset({"reengage", "daily_streak"})


@dataclass(frozen=True, slots=True)
class Reaction:
    """What the user does after a push, as delays from its arrival (None: they do not)."""

    open_after_ms: int | None
    click_after_ms: int | None
    convert_after_ms: int | None
    conversion: str  # event type of the conversion: purchase or app_open


@dataclass(frozen=True, slots=True)
class ReactionModel:
    """Rates of the funnel; `variant_effects` multiplies the open and conversion rates of a variant."""

    open_p: float = 0.40
    click_p: float = 0.60  # of opens
    convert_p: float = 0.50  # of clicks
    variant_effects: dict[str, float] = field(default_factory=lambda: {"urgent": 1.6})
    quiet_factor: float = 0.3  # pushes arriving at night are mostly ignored
    evening_factor: float = 1.2  # 18:00-21:59 local is the best time to reach people

    def timing_factor(self, user: SimUser, at_ms: int) -> float:
        """How receptive the user is at this local hour."""
        try:
            zone = ZoneInfo(user.profile.time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        hour = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(zone).hour
        if hour >= 22 or hour < 8:
            return self.quiet_factor
        return self.evening_factor if 18 <= hour < 22 else 1.0

    def probabilities(self, user: SimUser, trigger_id: str, variant: str, at_ms: int) -> tuple[float, float, float]:
        """(open, click given open, convert given click) for this push."""
        effect = self.variant_effects.get(variant, 1.0)
        relevance = user.persona.relevance.get(trigger_id, 1.0)
        opened = min(0.95, self.open_p * effect * relevance * self.timing_factor(user, at_ms))
        converted = min(0.95, self.convert_p * effect * relevance)
        return opened, self.click_p, converted

    def react(self, rng: random.Random, user: SimUser, trigger_id: str, variant: str, at_ms: int) -> Reaction:
        """Draw the user's answer to a push arriving at `at_ms`."""
        p_open, p_click, p_convert = self.probabilities(user, trigger_id, variant, at_ms)
        conversion = "app_open" if trigger_id in RETURN_GOAL else "purchase"
        if rng.random() >= p_open:
            return Reaction(None, None, None, conversion)
        opened = int(rng.expovariate(1 / 600_000)) + 5_000  # most opens come within ~10 min
        if rng.random() >= p_click:
            return Reaction(opened, None, None, conversion)
        clicked = opened + rng.randrange(2_000, 60_000)
        if rng.random() >= p_convert:
            return Reaction(opened, clicked, None, conversion)
        return Reaction(opened, clicked, clicked + rng.randrange(60_000, 30 * 60_000), conversion)
