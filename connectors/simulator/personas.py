"""Simulated users: personas (how often they come, what they do) and the population built from a seed."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from schemas.records import DeviceToken, UserProfile

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
CATEGORIES = ("shoes", "jackets", "books", "games", "kitchen", "garden", "music", "beauty")
# (IANA zone, locale, country): a half-hour zone and both hemispheres keep quiet hours honest
ZONES = (
    ("Europe/London", "en-GB", "GB"),
    ("Europe/Berlin", "de-DE", "DE"),
    ("America/New_York", "en-US", "US"),
    ("America/Los_Angeles", "en-US", "US"),
    ("Asia/Kolkata", "en-IN", "IN"),
    ("Australia/Sydney", "en-AU", "AU"),
    ("America/Sao_Paulo", "pt-BR", "BR"),
    ("Europe/Paris", "fr-FR", "FR"),
)
FIRST_NAMES = ("ann", "Bob", "Chloé", "Dev", "Emma", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kofi", "Lena", "Maya")


@dataclass(frozen=True, slots=True)
class Persona:
    """How one kind of user behaves, per simulated day and per session."""

    name: str
    share: float  # of the population
    sessions_per_day: float
    views_per_session: tuple[int, int]
    cart_p: float  # a session adds to the cart
    buy_now_p: float  # ... and checks out in the same session
    natural_return_p: float  # an abandoned cart is bought later without any push (the holdout's rate)
    focus: float  # share of views in the favourite category
    new_user: bool = False
    relevance: dict[str, float] = field(default_factory=dict)  # how much each trigger's push matters to them


PERSONAS: tuple[Persona, ...] = (
    Persona("onboarding", 0.15, 1.2, (1, 4), 0.15, 0.2, 0.10, 0.5, new_user=True, relevance={"onboarding": 1.4}),
    Persona("browser", 0.25, 2.0, (3, 8), 0.10, 0.1, 0.08, 0.4, relevance={"price_drop": 1.3}),
    Persona("cart_abandoner", 0.20, 1.6, (2, 6), 0.60, 0.15, 0.12, 0.5, relevance={"cart_abandoned": 1.5}),
    Persona("lapsing", 0.10, 0.15, (1, 3), 0.10, 0.3, 0.05, 0.3, relevance={"reengage": 1.5}),
    Persona("loyal", 0.15, 2.5, (2, 5), 0.50, 0.7, 0.30, 0.5, relevance={"cart_abandoned": 1.2}),
    Persona("category_fan", 0.15, 2.0, (4, 9), 0.25, 0.4, 0.15, 0.9, relevance={"favourite_category_arrival": 1.6}),
)


@dataclass(frozen=True, slots=True)
class SimUser:
    """A simulated user: who they are and how they behave."""

    user_id: str
    persona: Persona
    profile: UserProfile
    device: DeviceToken
    favourites: tuple[str, ...]
    joins_at_ms: int  # signup (new users) or the start of the simulation


def stable_seed(*parts: object) -> int:
    """A seed from values, stable across processes (unlike hash())."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def pick_persona(rng: random.Random) -> Persona:
    """A persona drawn by population share."""
    return rng.choices(PERSONAS, weights=[p.share for p in PERSONAS])[0]


def make_user(seed: int, index: int, start_ms: int) -> SimUser:
    """The index-th user of a population; the same seed always makes the same user."""
    rng = random.Random(stable_seed(seed, "user", index))
    persona = pick_persona(rng)
    user_id = f"sim{index:06d}"
    zone, locale, country = rng.choice(ZONES)
    platform = rng.choice(("android", "android", "ios"))
    joins = start_ms + rng.randrange(DAY_MS) if persona.new_user else start_ms
    roll = rng.random()
    profile = UserProfile(
        user_id=user_id,
        first_name=rng.choice(FIRST_NAMES),
        locale=locale,
        time_zone=zone,
        country=country,
        platform=platform,
        signup_ms=joins if persona.new_user else start_ms - rng.randrange(30, 700) * DAY_MS,
        unsubscribed=roll < 0.03,
        opted_out_channels=["push"] if 0.03 <= roll < 0.05 else [],
        opted_out_categories=["promotions"] if 0.05 <= roll < 0.10 else [],
        max_per_week=2 if 0.10 <= roll < 0.13 else None,
        attributes={"persona": persona.name},
        updated_at_ms=joins,
    )
    token = hashlib.sha256(f"{seed}:{user_id}:token".encode()).hexdigest()
    device = DeviceToken(
        user_id=user_id, token=f"sim-{token}", platform=platform, app_id="dev.nudge.demo", updated_at_ms=joins
    )
    favourites = tuple(rng.sample(CATEGORIES, 2))
    return SimUser(user_id, persona, profile, device, favourites, joins)
