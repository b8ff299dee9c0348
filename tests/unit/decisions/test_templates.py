"""Templates: load-time checks, locale/variant fallbacks, sandboxing, length and payload limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.decisions import load_config
from streams.decisions.errors import TemplateLoadError, TemplateRenderError
from streams.decisions.templates import ELLIPSIS, fit_payload, load_templates, payload_size, render_message, truncate
from streams.engine.config import load_catalogue
from streams.pipeline.samples import preview

ROOT = Path(__file__).resolve().parents[3]


def one(title: str, body: str = "b", **extra: str) -> dict[str, Any]:
    return {"templates": {"trig": {"default": {"en": {"title": title, "body": body, **extra}}}}}


def render(raw: dict[str, Any], context: dict[str, Any] | None = None, variant: str = "default", locale: str = "en"):
    ctx = {
        "first_name": "Ana",
        "event": {},
        "cart": [],
        "recommendations": [],
        "discount_code": None,
        **(context or {}),
    }
    return render_message(load_templates(raw), "trig", variant, locale, ctx, 65, 240)


def test_shipped_templates_load_and_cover_every_trigger_in_the_catalogue() -> None:
    import yaml

    cfg = load_config(ROOT / "streams/templates/decisions.yaml")
    catalogue = yaml.safe_load((ROOT / "streams/triggers.yaml").read_text())["triggers"]
    ids = {t["id"] for t in catalogue}
    assert ids <= {key[0] for key in cfg.templates.templates}
    assert ids <= set(cfg.triggers)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (one("Hi {{ name }}"), "templates.trig.default.en.title: unknown variable(s) name"),
        (one("Hi {{ first_name"), "templates.trig.default.en.title: syntax error on line 1"),
        (one("ok", "{% for x in cart %}"), "templates.trig.default.en.body: syntax error"),
        (one("{{ ''.__class__ }}"), "private attribute '__class__' is not allowed"),
        (one("{{ event['__globals__'] }}"), "private attribute '__globals__'"),
        (one("{{ cart._x }}"), "private attribute '_x'"),
        ({"templates": {"trig": {"default": {"en": {"title": "t"}}}}}, "templates.trig.default.en: needs at least"),
        (one("t", sound="x"), "unknown field(s) sound"),
        ({"templates": {"trig": {"default": {"de": ["x"]}}}}, "templates.trig.default.de: needs at least"),
        ({"templates": {"trig": ["x"]}}, "templates.trig: expected variant"),
    ],
)
def test_bad_templates_are_refused_at_load_with_their_location(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateLoadError) as err:
        load_templates(raw)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "hostile",
    [
        "{{ 7*7 }}",
        "{{ ''.__class__.__mro__ }}",
        "{% for x in range(10**9) %}x{% endfor %}",
        "<script>alert(1)</script>",
    ],
)
def test_hostile_event_values_render_as_plain_text(hostile: str) -> None:
    msg = render(
        one("{{ event.get('title') }}", "{{ event.properties.note }}"),
        {"event": {"title": hostile, "properties": {"note": hostile}}},
    )
    assert msg.title == truncate(hostile, 65)
    assert msg.body == hostile


@pytest.mark.parametrize(
    "source",
    [
        "{{ cart|attr(event.k) }}",  # a dunder name computed at run time: refused by the sandbox
        "{{ (cart|attr(event.k))|attr(event.k) }}",
        "{{ cart.append(1) }}",  # mutation is refused by the immutable sandbox
        "{{ event.get|attr(event.k) }}",
    ],
)
def test_sandbox_refuses_escapes_at_render(source: str) -> None:
    with pytest.raises(TemplateRenderError, match=r"SecurityError|UndefinedError"):
        render(one(source), {"event": {"k": "__class__"}})


@pytest.mark.parametrize("source", ["{{ event.get.__self__ }}", "{{ cart.__len__() }}", "{{ x.mro }}"])
def test_dunder_and_unknown_access_refused_at_load(source: str) -> None:
    with pytest.raises(TemplateLoadError):
        load_templates(one(source))


def test_strict_undefined_fails_instead_of_printing_nothing() -> None:
    with pytest.raises(TemplateRenderError, match=r"trig/default/en.title: UndefinedError"):
        render(one("{{ event.price }}"))


def test_locale_falls_back_to_language_then_default() -> None:
    raw = {
        "templates": {
            "trig": {
                "default": {"en": {"title": "en", "body": "b"}, "pt": {"title": "pt", "body": "b"}},
                "b": {"pt-br": {"title": "pt-BR b", "body": "b"}},
            }
        }
    }
    assert render(raw, locale="pt_BR").title == "pt"  # variant default, language fallback
    assert render(raw, locale="pt-BR", variant="b").title == "pt-BR b"
    assert render(raw, locale="fr", variant="b").title == "en"  # variant b has no fr nor en: default variant
    assert render(raw, locale="de").locale == "en"


def test_a_first_name_fallback_is_refused_with_what_to_write_instead() -> None:
    raw = {**one("Hi {{ first_name }}"), "first_name_fallback": {"en": "there"}}
    with pytest.raises(TemplateLoadError, match=r"first_name_fallback: no longer supported.*if first_name"):
        load_templates(raw)


def test_copy_without_a_name_reads_well() -> None:
    raw = one("Welcome{% if first_name %}, {{ first_name }}{% endif %} 👋")
    assert render(raw, {"first_name": ""}).title == "Welcome 👋"
    assert render(raw, {"first_name": "Zoë"}).title == "Welcome, Zoë 👋"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("de-DE", "1.234,50\u00a0€"), ("en-GB", "€1,234.50"), ("fr-FR", "1\u202f234,50\u00a0€"), ("en-US", "€1,234.50")],
)
def test_prices_are_formatted_in_the_users_locale(locale: str, expected: str) -> None:
    raw = {"templates": {"trig": {"default": {lang: {"title": "{{ 1234.5 | money('EUR') }}", "body": "b"}
                                              for lang in ("en", "de", "fr")}}}}  # fmt: skip
    assert render(raw, locale=locale).title == expected


def test_money_without_a_currency_uses_the_contexts_and_a_non_number_renders_nothing() -> None:
    raw = one("{{ 12 | money }}|{{ none | money('EUR') }}|{{ 1234567 | number }}")
    assert render(raw, {"currency": "USD"}, locale="en").title == "$12.00||1,234,567"


def test_missing_template_is_a_render_error() -> None:
    with pytest.raises(TemplateRenderError, match="no template for other/default"):
        render_message(load_templates(one("x")), "other", "default", "en", {}, 65, 240)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("the quick brown fox jumps", 12, "the quick" + ELLIPSIS),  # cut at a word boundary
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi" + ELLIPSIS),  # no space near: hard cut
        ("🛒🛒🛒🛒🛒🛒", 4, "🛒🛒🛒" + ELLIPSIS),  # counts characters, never splits an emoji's code point
        ("a  b\n c", 10, "a b c"),
    ],
)
def test_truncate(text: str, limit: int, expected: str) -> None:
    out = truncate(text, limit)
    assert out == expected
    assert len(out) <= limit


def test_title_and_body_limits_apply_after_render() -> None:
    msg = render(one("{{ event.get('t') }}", "{{ event.get('b') }}"), {"event": {"t": "word " * 40, "b": "x" * 1000}})
    assert len(msg.title) <= 65 and msg.title.endswith(ELLIPSIS)
    assert len(msg.body) == 240 and msg.body.endswith(ELLIPSIS)


def test_payload_is_shortened_to_fcm_limit_and_refused_when_it_cannot_fit() -> None:
    data = {"k": "v" * 3000}
    body = fit_payload("t", "é" * 2000, None, data, 4096)
    assert payload_size("t", body, None, data) <= 4096 and body.endswith(ELLIPSIS)
    with pytest.raises(TemplateRenderError, match="payload_too_large"):
        fit_payload("t", "body", None, {"k": "v" * 5000}, 4096)


def test_image_url_must_be_http_and_empty_fields_become_none() -> None:
    assert render(one("t", image_url="{{ event.get('img') or '' }}", deep_link="")).image_url is None
    with pytest.raises(TemplateRenderError, match="not an http"):
        render(one("t", image_url="javascript:alert(1)"))


def test_every_shipped_template_reads_well_for_every_trigger_kind_named_or_not() -> None:
    cfg = load_config(ROOT / "streams/templates/decisions.yaml")
    catalogue = load_catalogue((ROOT / "streams/triggers.yaml").read_text())
    previews = preview(catalogue, cfg)
    assert {p.trigger_id for p in previews} == {t.id for t in catalogue.triggers}
    bad = [(p.trigger_id, p.variant, p.locale, p.sample, p.title, p.body, p.problems) for p in previews if p.problems]
    assert bad == []
    wanted = ("cart_abandoned", "default", "de", "rich, named")
    german = [p for p in previews if (p.trigger_id, p.variant, p.locale, p.sample) == wanted]
    assert german and all("3 Artikel für 2.347,99\u00a0€" in p.body for p in german)
