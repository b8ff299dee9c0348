"""A trigger firing and its deterministic id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


def firing_id(user_id: str, trigger_id: str, instance: str) -> str:
    """The same (user, trigger, instance) always gives the same id, on any worker, in any run."""
    return hashlib.blake2b(f"{user_id}|{trigger_id}|{instance}".encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Firing:
    """A trigger that fired for one user at one event time (`at_ms`)."""

    user_id: str
    trigger_id: str
    instance: str
    at_ms: int
    data: dict[str, str] = field(default_factory=dict)
    cart: tuple[dict[str, Any], ...] = ()  # the open cart's lines when the firing is about a cart

    @property
    def id(self) -> str:
        return firing_id(self.user_id, self.trigger_id, self.instance)
