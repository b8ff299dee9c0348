"""State round trips and size bound; the stream clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.engine.clock import StreamClock
from streams.engine.config import load_catalogue
from streams.engine.engine import Engine
from streams.engine.errors import StateError
from streams.engine.firing import firing_id
from streams.engine.state import UserState
from tests.unit.engine.support import DAY, MIN, T0, Ev

ROOT = Path(__file__).resolve().parents[3]
# A busy user's state (200 events in a month) must stay small: it is written to the changelog on every change.
TYPICAL_USER_MAX_BYTES = 3_072


def typical_user() -> UserState:
    engine = Engine(load_catalogue((ROOT / "streams" / "triggers.yaml").read_text()))
    state = UserState("user-123456")
    for i in range(200):  # a month of heavy browsing over 40 items in 12 categories
        kind = ("view", "view", "view", "cart", "purchase", "app_open")[i % 6]
        event = Ev(
            kind,
            T0 + i * 3 * 3600_000,
            "user-123456",
            item_id=f"item{i % 40}",
            category=f"cat{i % 12}",
            price=19.9,
            cart_id=f"cart{i // 10}",
        )
        state, _ = engine.on_event(state, event, event.event_time_ms)
    return state


def test_state_round_trips() -> None:
    state = typical_user()
    assert UserState.from_bytes(state.to_bytes()) == state
    assert UserState.from_dict(state.to_dict()) == state


def test_typical_state_size_is_bounded() -> None:
    size = len(typical_user().to_bytes())
    print(f"typical user state: {size} bytes")
    assert size <= TYPICAL_USER_MAX_BYTES


def test_bad_state_bytes() -> None:
    with pytest.raises(StateError):
        UserState.from_bytes(b"{nope")
    with pytest.raises(StateError):
        UserState.from_dict({"user_id": "u", "colour": 1})


def test_firing_ids_are_deterministic() -> None:
    assert firing_id("u", "t", "i") == firing_id("u", "t", "i")
    assert len({firing_id("u", "t", "i"), firing_id("u", "t", "j"), firing_id("v", "t", "i")}) == 3


@pytest.mark.parametrize(
    ("events", "now", "late"),
    [
        ([100, 200, 150], 140, [False, False, False]),
        ([100, 200, 130], 140, [False, False, True]),
        ([5, 1], 0, [False, False]),
    ],
)
def test_stream_clock(events: list[int], now: int, late: list[bool]) -> None:
    clock = StreamClock(60, replay=True)
    flags = []
    for t in events:
        flags.append(clock.is_late(t))
        clock.observe(t)
    assert clock.now_ms == now and flags == late
    assert clock.wall(10**9) == now  # replay: the wall clock does not move time


def test_live_clock_follows_the_wall() -> None:
    clock = StreamClock(60, replay=False)
    clock.observe(100)
    assert clock.wall(1000) == 940
    assert clock.observe(500) == 940  # never backwards


def test_user_timer_index_matches_state() -> None:
    engine = Engine(load_catalogue("triggers:\n  - {id: a, kind: absence, on: cart, stop: purchase, within: 30m}\n"))
    state, _ = engine.on_event(UserState("u"), Ev("cart", T0), T0)
    assert state.next_due() == T0 + 30 * MIN
    state, fired = engine.on_time(state, T0 + DAY)
    assert [f.at_ms for f in fired] == [T0 + 30 * MIN] and state.timers == {}
