"""Sample firings of each trigger kind rendered through every template: what a person would read, checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.records import UserProfile
from streams.decisions import Candidate, DecisionConfig
from streams.decisions.context import template_context
from streams.decisions.copycheck import copy_problems
from streams.decisions.errors import TemplateRenderError
from streams.decisions.templates import render_message
from streams.engine.config import Catalogue, Trigger

# A region per template language, so numbers and prices are formatted the way those users see them.
SAMPLE_REGIONS = {"en": "en-GB", "de": "de-DE", "fr": "fr-FR", "pt": "pt-BR", "es": "es-ES", "it": "it-IT"}
ITEMS = (
    {"item_id": "sku-1", "title": "Trail Runner 2", "price": 89.99, "currency": "EUR", "quantity": 1,
     "image_url": "https://img.nudge.example/sku-1.jpg", "deep_link": "https://shop.nudge.example/p/sku-1"},
    {"item_id": "sku-2", "title": "Rain Jacket", "price": 1129.0, "previous_price": 1249.5, "currency": "EUR",
     "quantity": 2, "image_url": "https://img.nudge.example/sku-2.jpg", "category": "jackets"},
    {"item_id": "sku-3", "title": "Camp Mug", "price": 12.5, "currency": "EUR", "quantity": 1},
)  # fmt: skip


UNKNOWN = {"item_id": "sku-9", "price": 19.99, "currency": "EUR", "quantity": 1}  # a line the catalogue does not know


@dataclass(frozen=True, slots=True)
class Preview:
    """One template rendered for one sample firing."""

    trigger_id: str
    variant: str
    locale: str
    sample: str
    title: str
    body: str
    image_url: str | None
    problems: tuple[str, ...]


def _events(trigger: Trigger) -> list[tuple[str, dict[str, Any]]]:
    """The text fields firings of this trigger's kind carry (see engine/kinds.py), one per step or stage."""
    kind, mode = trigger.kind, trigger.mode
    if kind == "inactivity":
        return [
            (f"stage {i}", {"stage": str(i), "days": str(ms // 86_400_000)}) for i, ms in enumerate(trigger.stages_ms)
        ]
    if kind == "sequence":
        return [(f"step {i}", {"step": str(i)}) for i in range(len(trigger.steps))]
    if kind == "milestone" and mode == "lifetime":
        return [("", {"count": str(int(trigger.threshold) or 10), "item_id": "sku-1"})]
    if kind == "milestone" and mode in ("sum", "count"):
        return [("", {"total": f"{max(trigger.threshold, 1) * 1.07:.2f}", "currency": "EUR", "window_start_ms": "0"})]
    if kind == "milestone" and mode == "streak":
        return [("", {"days": str(trigger.streak_days or 7)})]
    if kind == "milestone":
        return [("", {"years": "3"})]
    if kind == "absence":
        return [("", {"cart_id": "cart-1", "item_id": "sku-2"})]
    if kind == "recommendation":
        return [("", {"item_id": "sku-2", "category": "jackets"})]
    return [("", {})]


def sample_firings(trigger: Trigger) -> list[tuple[str, Candidate]]:
    """Firings of the trigger with the catalogue and cart known (two lines, one line) and with nothing known."""
    base = {"firing_id": f"sample-{trigger.id}", "user_id": "sample-user", "trigger_id": trigger.id,
            "event_time_ms": 1_700_000_000_000}  # fmt: skip
    out = []
    for step, event in _events(trigger):
        item = next((dict(i) for i in ITEMS if i["item_id"] == event.get("item_id")), {})
        cart = [dict(i) for i in ITEMS[:2]] if trigger.kind == "absence" else []
        recs = [dict(i) for i in ITEMS if i["item_id"] != event.get("item_id")][:2]
        where = f"{step}, " if step else ""
        out += [
            (f"{where}rich", Candidate(**base, event=event, item=item, cart=cart, recommendations=recs)),
            (
                f"{where}one line",
                Candidate(**base, event=event, item=item, cart=cart[:1], recommendations=recs[:1]),
            ),
            (f"{where}untitled", Candidate(**base, event=event, cart=[dict(UNKNOWN)] if cart else [])),
            (f"{where}sparse", Candidate(**base, event=event)),  # the catalogue knows nothing, the cart is unknown
        ]
    return out


def preview(catalogue: Catalogue, config: DecisionConfig) -> list[Preview]:
    """Every (trigger, variant, locale) template of `config` rendered for sample firings, named and unnamed."""
    triggers = {t.id: t for t in catalogue.triggers}
    out = []
    for trigger_id, variant, locale in sorted(config.templates.templates):
        trigger = triggers.get(trigger_id)
        if trigger is None:
            continue
        user_locale = SAMPLE_REGIONS.get(locale, locale)
        for label, firing in sample_firings(trigger):
            for name in ("Alex", None):
                profile = UserProfile(user_id="sample-user", first_name=name, locale=user_locale, updated_at_ms=0)
                context = template_context(firing, profile, "SAVE10", config.default_currency)
                sample = f"{label}, {'named' if name else 'no name'}"
                try:
                    msg = render_message(config.templates, trigger_id, variant, user_locale, context,
                                         config.title_max_chars, config.body_max_chars)  # fmt: skip
                except TemplateRenderError as exc:
                    out.append(Preview(trigger_id, variant, locale, sample, "", "", None, (str(exc),)))
                    continue
                problems = [f"title: {p}" for p in copy_problems(msg.title)]
                problems += [f"body: {p}" for p in copy_problems(msg.body)]
                out.append(Preview(trigger_id, variant, locale, sample, msg.title, msg.body, msg.image_url,
                                   tuple(problems)))  # fmt: skip
    return out


def missing_templates(catalogue: Catalogue, config: DecisionConfig) -> list[str]:
    """Triggers with no template at all (their pushes could not be rendered)."""
    have = {t for t, _, _ in config.templates.templates}
    return [t.id for t in catalogue.triggers if t.id not in have]
