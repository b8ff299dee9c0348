"""Sandboxed Jinja2 templates per trigger x variant x locale: checked at load, safe at render."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal
from jinja2 import StrictUndefined, Template, TemplateError, meta, nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from streams.decisions.errors import TemplateLoadError, TemplateRenderError

FIELDS = ("title", "body", "image_url", "deep_link")
# Every name a template may use; anything else is refused at load time.
KNOWN_VARIABLES = frozenset(
    {
        "user",  # profile: first_name, locale, country, attributes
        "first_name",  # the profile's first name, or "" when unknown: write copy that reads well without it
        "event",  # the firing's fields as text: item_id, category, cart_id, stage, count, window_start_ms, ...
        "item",  # the item the firing is about, from the catalogue: title, price, previous_price, currency,
        # image_url, deep_link, category, creator, in_stock (empty when the firing is about no item)
        "cart",  # the open cart's lines: item_id, title, price, currency, quantity, image_url
        "cart_count",  # items in the cart (quantities added up)
        "cart_total",  # sum of price x quantity
        "currency",  # the cart's or item's currency, else the config's default_currency
        "recommendations",  # recommended items (the keys of `item`): arrivals and drops they may like, items viewed
        "count",  # milestone: the lifetime count reached
        "total",  # milestone: the windowed sum reached (e.g. spend this week)
        "days",  # streak length, or days inactive for an inactivity stage
        "years",  # anniversary: years since the profile's date
        "stage",  # inactivity: stage index (0 = the first)
        "step",  # sequence: step index
        "discount_code",  # the trigger's (or variant's) code, or None
        "trigger_id",
        "variant",
        "locale",  # the template's locale ("de")
        "number_locale",  # the locale numbers and prices are formatted in ("de_DE")
    }
)
ELLIPSIS = "…"
_RUNS_OF_SPACE = re.compile(r"[ \t\r\n]+")
DEFAULT_VARIANT = "default"

# Output is push text, not HTML, so no autoescape; values are data and never evaluated as templates.
_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@pass_context
def _money(context: Context, amount: Any, currency: str | None = None) -> str:
    """A price in the user's locale: `{{ item.price | money(item.currency) }}` -> "12,50 €" for de-DE."""
    if not isinstance(amount, int | float) or isinstance(amount, bool):
        return ""
    code = currency or context.get("currency") or "EUR"
    return str(format_currency(amount, str(code), locale=context.get("number_locale") or "en"))


@pass_context
def _number(context: Context, value: Any) -> str:
    """A number in the user's locale: 1234.5 -> "1.234,5" for de-DE."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return str(format_decimal(value, locale=context.get("number_locale") or "en"))


_ENV.filters["money"] = _money
_ENV.filters["number"] = _number


def number_locale(user_locale: str | None, template_locale: str) -> str:
    """The locale to format numbers in: the user's own when it speaks the template's language, else the
    template's (an English text for a pt-BR user gets English numbers, a de-AT user gets Austrian ones)."""
    for candidate in (user_locale, template_locale):
        if not candidate:
            continue
        try:
            parsed = Locale.parse(candidate.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
        if parsed.language == template_locale.split("-")[0]:
            return str(parsed)
    return template_locale.split("-")[0] or "en"


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered push: what goes into a NotificationJob."""

    title: str
    body: str
    image_url: str | None
    deep_link: str | None
    locale: str


@dataclass(frozen=True, slots=True)
class TemplateSet:
    """Compiled templates keyed by (trigger, variant, locale), with the locale fallback rules."""

    default_locale: str = "en"
    templates: dict[tuple[str, str, str], dict[str, Template]] = field(default_factory=dict)

    def resolve(self, trigger_id: str, variant: str, locale: str | None) -> tuple[str, dict[str, Template]] | None:
        """Find the template: exact locale, then its language, then the default; variant, then default."""
        wanted = [c for c in _locale_chain(locale) if c] + [self.default_locale]
        for var in (variant, DEFAULT_VARIANT):
            for loc in wanted:
                found = self.templates.get((trigger_id, var, loc))
                if found:
                    return loc, found
        return None


def _locale_chain(locale: str | None) -> list[str]:
    if not locale:
        return []
    norm = locale.replace("_", "-").lower()
    return [norm, norm.split("-")[0]]


def _refuse_private_access(tree: nodes.Template, where: str) -> None:
    """Refuse `x.__class__`, `x._private` and `x['__globals__']` before the sandbox ever sees them."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            name: object = node.attr
        else:
            name = getattr(getattr(node, "arg", None), "value", None)
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateLoadError(f"{where}: access to private attribute {name!r} is not allowed")


def compile_template(source: str, where: str) -> Template:
    """Parse, check names and compile one template string; errors name `where`."""
    if not isinstance(source, str):
        raise TemplateLoadError(f"{where}: expected a string, got {type(source).__name__}")
    try:
        tree = _ENV.parse(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise TemplateLoadError(f"{where}: syntax error{f' on line {line}' if line else ''}: {exc}") from None
    unknown = sorted(meta.find_undeclared_variables(tree) - KNOWN_VARIABLES)
    if unknown:
        raise TemplateLoadError(
            f"{where}: unknown variable(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_VARIABLES))}"
        )
    _refuse_private_access(tree, where)
    return _ENV.from_string(tree)


def load_templates(raw: dict[str, Any], default_locale: str = "en") -> TemplateSet:
    """Compile `templates: {trigger: {variant: {locale: {title, body, image_url?, deep_link?}}}}`."""
    compiled: dict[tuple[str, str, str], dict[str, Template]] = {}
    if "first_name_fallback" in raw:
        raise TemplateLoadError(
            "first_name_fallback: no longer supported (it made copy like 'Welcome, there'); write copy that reads "
            'well without a name instead, e.g. "Welcome{% if first_name %}, {{ first_name }}{% endif %}"'
        )
    for trigger_id, variants in (raw.get("templates") or {}).items():
        if not isinstance(variants, dict):
            raise TemplateLoadError(f"templates.{trigger_id}: expected variant -> locale -> fields")
        for variant, locales in variants.items():
            if not isinstance(locales, dict):
                raise TemplateLoadError(f"templates.{trigger_id}.{variant}: expected locale -> fields")
            for locale, fields in locales.items():
                where = f"templates.{trigger_id}.{variant}.{locale}"
                if not isinstance(fields, dict) or "title" not in fields or "body" not in fields:
                    raise TemplateLoadError(f"{where}: needs at least 'title' and 'body'")
                extra = sorted(set(fields) - set(FIELDS))
                if extra:
                    raise TemplateLoadError(f"{where}: unknown field(s) {', '.join(extra)}; allowed: {FIELDS}")
                key = (str(trigger_id), str(variant), str(locale).replace("_", "-").lower())
                compiled[key] = {f: compile_template(fields[f], f"{where}.{f}") for f in FIELDS if f in fields}
    return TemplateSet(default_locale.lower(), compiled)


def truncate(text: str, max_chars: int) -> str:
    """Cut to `max_chars` characters ending in an ellipsis, at a word boundary when one is near the end."""
    text = _RUNS_OF_SPACE.sub(" ", text).strip()  # not str.split(): no-break spaces in prices stay
    if len(text) <= max_chars:
        return text
    cut = text[: max(max_chars - 1, 0)]
    space = cut.rfind(" ")
    if space >= len(cut) - 15 and space > 0:  # prefer a whole word unless that loses too much
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + ELLIPSIS


def payload_size(title: str, body: str, image_url: str | None, data: dict[str, str]) -> int:
    """Bytes of the FCM message payload (notification + data) as JSON."""
    notification = {"title": title, "body": body, **({"image": image_url} if image_url else {})}
    return len(json.dumps({"notification": notification, "data": data}, ensure_ascii=False).encode())


def fit_payload(title: str, body: str, image_url: str | None, data: dict[str, str], max_bytes: int) -> str:
    """Shorten the body until the payload fits FCM's limit; raise when even an empty body does not."""
    for _ in range(64):
        over = payload_size(title, body, image_url, data) - max_bytes
        if over <= 0:
            return body
        if len(body) <= 1:
            break
        body = truncate(body, max(len(body) - over - 1, 0))
    raise TemplateRenderError(f"payload_too_large: {payload_size(title, body, image_url, data)} > {max_bytes} bytes")


def _render(template: Template, context: dict[str, Any], where: str) -> str:
    try:
        return template.render(context)
    except Exception as exc:  # any template failure, sandbox refusals included, is a render error
        raise TemplateRenderError(f"{where}: {type(exc).__name__}: {exc}") from None


def render_message(
    templates: TemplateSet,
    trigger_id: str,
    variant: str,
    locale: str | None,
    context: dict[str, Any],
    title_max: int,
    body_max: int,
) -> Message:
    """Render title/body/image/deep link; raise TemplateRenderError on any failure."""
    found = templates.resolve(trigger_id, variant, locale)
    if found is None:
        raise TemplateRenderError(f"no template for {trigger_id}/{variant}/{locale or templates.default_locale}")
    used_locale, fields = found
    ctx = {**context, "locale": used_locale, "variant": variant, "trigger_id": trigger_id,
           "number_locale": number_locale(locale, used_locale)}  # fmt: skip
    where = f"{trigger_id}/{variant}/{used_locale}"
    out = {name: _render(tpl, ctx, f"{where}.{name}").strip() for name, tpl in fields.items()}
    image = out.get("image_url") or None
    if image and not image.startswith(("https://", "http://")):
        raise TemplateRenderError(f"{where}.image_url: not an http(s) URL: {image[:80]!r}")
    if not out["title"] or not out["body"]:
        raise TemplateRenderError(f"{where}: rendered an empty title or body")
    return Message(
        title=truncate(out["title"], title_max),
        body=truncate(out["body"], body_max),
        image_url=image,
        deep_link=out.get("deep_link") or None,
        locale=used_locale,
    )
