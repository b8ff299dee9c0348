"""Stored user states: the JSON written before orjson still loads; values orjson cannot carry round-trip via json."""

from __future__ import annotations

import json
import math

import orjson

from streams.engine.state import UserState
from tests.unit.engine.test_state_and_timers import typical_user


def old_format(state: UserState) -> bytes:
    """What `to_bytes` wrote with the standard library (changelogs hold this)."""
    return json.dumps(state.to_dict(), separators=(",", ":")).encode()


def test_states_written_by_json_load_unchanged() -> None:
    state = typical_user()
    state.profile = {"first_name": "Zoë", "locale": "de", "attributes": {"tier": "gold"}}
    assert b"\\u00eb" in old_format(state)  # json escaped non-ASCII; orjson writes UTF-8
    assert UserState.from_bytes(old_format(state)) == state
    assert json.loads(state.to_bytes()) == json.loads(old_format(state))


def test_non_finite_spend_and_huge_counts_survive_a_round_trip() -> None:
    state = UserState("u1", events=2**70, spend=math.inf, profile={"score": -math.inf})
    data = state.to_bytes()
    assert data == old_format(state)  # json's encoding: orjson would turn Infinity into null
    back = UserState.from_bytes(data)
    assert back.spend == math.inf and back.events == 2**70 and back.profile == {"score": -math.inf}
    nan = UserState.from_bytes(old_format(UserState("u2", spend=math.nan)))
    assert math.isnan(nan.spend)


def test_to_dict_leaves_out_empty_fields_in_field_order() -> None:
    state = UserState("u1", last_ms=5, events=1, recent_items={"i": 5}, late_events=1)
    assert list(state.to_dict()) == ["user_id", "last_ms", "events", "recent_items", "late_events"]
    assert UserState("u2").to_dict() == {"user_id": "u2"}


def test_a_none_is_written_by_orjson_and_a_non_finite_float_beside_it_by_json() -> None:
    """Cart lines hold None for an unknown title or image; only a NaN or Infinity needs json's slower encoder."""
    state = UserState("u3", carts={"c": {"i1": [1, 9.5, "EUR", None, None, 5]}}, profile={"name": "Zoë"})
    assert state.to_bytes() == orjson.dumps(state.to_dict())  # UTF-8 as orjson writes it, not json's \\u escapes
    assert UserState.from_bytes(state.to_bytes()) == state
    state.spend = math.nan
    assert state.to_bytes() == old_format(state) and b"NaN" in state.to_bytes()
    assert math.isnan(UserState.from_bytes(state.to_bytes()).spend)
