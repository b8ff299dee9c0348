"""Parametrised tables per trigger kind, driven through one partition with injected event time."""

from __future__ import annotations

import pytest

from streams.engine.clock import StreamClock
from streams.pipeline.partition import PartitionRuntime
from streams.pipeline.store import PartitionStore
from streams.state.cache import RecordCache
from tests.unit.engine.support import DAY, HOUR, MIN, T0, Ev, Item, Profile, engine, partition

ABSENCE = """
triggers:
  - {id: abandon, kind: absence, on: cart, stop: purchase, key: cart_id, within: 30m, reeligible_after: 2h,
     data: {discount_code: SAVE10}}
"""


def run(yaml_text: str, events: list, lateness: int = 0, until: int | None = None) -> list[tuple[str, str, int]]:
    """Feed events (and a final clock move) and return (user, trigger, at) of every firing."""
    proc = partition(engine(yaml_text), lateness, replay=until is None)
    out = []
    for item in events:
        if isinstance(item, Ev):
            fired = proc.on_event(item).firings
        elif isinstance(item, Item):
            fired = proc.on_catalog(item).firings  # type: ignore[arg-type]
        else:
            fired = proc.on_profile(item).firings
        proc.checkpoint()  # every step through the store, as a commit would
        out += fired
    if until is not None:
        out += proc.on_wall_clock(until).firings
    return [(f.user_id, f.trigger_id, f.at_ms) for f in out]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # fires at the deadline once stream time passes it
        ([Ev("cart", T0, cart_id="c1"), Ev("view", T0 + 31 * MIN, "u2")], [("u1", "abandon", T0 + 30 * MIN)]),
        # nothing yet: stream time has not reached the deadline
        ([Ev("cart", T0, cart_id="c1"), Ev("view", T0 + 29 * MIN, "u2")], []),
        # a purchase inside the window cancels
        ([Ev("cart", T0, cart_id="c1"), Ev("purchase", T0 + 29 * MIN), Ev("view", T0 + HOUR, "u2")], []),
        # a purchase exactly at the deadline is too late: the window is [cart, cart + 30m)
        (
            [Ev("cart", T0, cart_id="c1"), Ev("purchase", T0 + 30 * MIN), Ev("view", T0 + HOUR, "u2")],
            [("u1", "abandon", T0 + 30 * MIN)],
        ),
        # another stream event exactly at the deadline fires it (stream time reaches the due time)
        ([Ev("cart", T0, cart_id="c1"), Ev("view", T0 + 30 * MIN, "u2")], [("u1", "abandon", T0 + 30 * MIN)]),
        # a purchase for another cart does not cancel this one
        (
            [Ev("cart", T0, cart_id="c1"), Ev("purchase", T0 + MIN, cart_id="c2"), Ev("view", T0 + HOUR, "u2")],
            [("u1", "abandon", T0 + 30 * MIN)],
        ),
        # re-eligibility: a second abandoned cart within 2h of the first firing is not sent again
        (
            [
                Ev("cart", T0, cart_id="c1"),
                Ev("cart", T0 + 40 * MIN, cart_id="c1"),
                Ev("cart", T0 + 4 * HOUR, cart_id="c1"),
                Ev("view", T0 + 6 * HOUR, "u2"),
            ],
            [("u1", "abandon", T0 + 30 * MIN), ("u1", "abandon", T0 + 4 * HOUR + 30 * MIN)],
        ),
    ],
)
def test_absence(events: list, expected: list) -> None:
    assert run(ABSENCE, events) == expected


def test_absence_late_purchase_races_the_deadline() -> None:
    # with 5 min lateness the purchase at 29m arriving after a 33m event still cancels (stream time 28m)
    events = [Ev("cart", T0, cart_id="c1"), Ev("view", T0 + 33 * MIN, "u2"), Ev("purchase", T0 + 29 * MIN)]
    assert run(ABSENCE, [*events, Ev("view", T0 + HOUR, "u2")], lateness=5 * MIN) == []
    # beyond the lateness the deadline already fired; the late purchase cannot undo it nor fire twice
    late = [Ev("cart", T0, cart_id="c1"), Ev("view", T0 + 40 * MIN, "u2"), Ev("purchase", T0 + 29 * MIN)]
    assert run(ABSENCE, [*late, Ev("view", T0 + HOUR, "u2")], lateness=5 * MIN) == [("u1", "abandon", T0 + 30 * MIN)]


def test_absence_late_start_with_closed_window_never_fires() -> None:
    events = [Ev("view", T0 + HOUR, "u2"), Ev("cart", T0, cart_id="c1"), Ev("view", T0 + 2 * HOUR, "u2")]
    assert run(ABSENCE, events) == []


EVENT = """
triggers:
  - {id: first_fav, kind: event, on: fav, occurrence: first}
  - {id: third_view, kind: event, on: {type: view, where: {category: shoes}}, occurrence: nth, nth: 3}
  - {id: big_buy, kind: event, on: {type: purchase, where: {price: {gte: 100}}}, audience: {country: [FR, DE]}}
"""


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([Ev("fav", T0), Ev("fav", T0 + 1)], [("u1", "first_fav", T0)]),
        (
            [Ev("view", T0 + i, category="shoes") for i in range(7)],
            [("u1", "third_view", T0 + 2), ("u1", "third_view", T0 + 5)],
        ),
        ([Ev("view", T0 + i, category="hats") for i in range(4)], []),
        ([Profile("u1", country="FR"), Ev("purchase", T0, price=150.0)], [("u1", "big_buy", T0)]),
        ([Profile("u1", country="US"), Ev("purchase", T0, price=150.0)], []),
        ([Profile("u1", country="DE"), Ev("purchase", T0, price=99.0)], []),
    ],
)
def test_event(events: list, expected: list) -> None:
    assert run(EVENT, events) == expected


INACTIVITY = "triggers:\n  - {id: quiet, kind: inactivity, on: {type: [app_open, view]}, stages: [7d, 30d]}\n"


@pytest.mark.parametrize(
    ("events", "until", "expected"),
    [
        ([Ev("app_open", T0)], T0 + 8 * DAY, [("u1", "quiet", T0 + 7 * DAY)]),
        ([Ev("app_open", T0)], T0 + 31 * DAY, [("u1", "quiet", T0 + 7 * DAY), ("u1", "quiet", T0 + 30 * DAY)]),
        # activity re-arms both stages
        ([Ev("app_open", T0), Ev("view", T0 + 6 * DAY)], T0 + 14 * DAY, [("u1", "quiet", T0 + 13 * DAY)]),
        # a non-activity event does not re-arm
        ([Ev("app_open", T0), Ev("notification_opened", T0 + 6 * DAY)], T0 + 8 * DAY, [("u1", "quiet", T0 + 7 * DAY)]),
        ([Ev("app_open", T0)], T0 + 6 * DAY, []),
    ],
)
def test_inactivity_live_wall_clock(events: list, until: int, expected: list) -> None:
    assert run(INACTIVITY, events, until=until) == expected


def test_activity_pushing_the_deadline_later_writes_no_index_entry_and_fires_only_at_the_new_deadline() -> None:
    """Each activity re-arms inactivity: the store's timer entry stays at the first deadline (no writes per event);
    reaching it fires nothing, moves it to the real one at the next checkpoint, and a restart reads it from there."""
    from streams.state.keys import DUE_ENGINE, due_key

    eng = engine(INACTIVITY)
    proc = partition(eng, replay=False)
    proc.on_event(Ev("app_open", T0))
    proc.checkpoint()
    first = due_key(DUE_ENGINE, T0 + 7 * DAY, "u1")
    assert proc.store.db.get(first) == b""
    proc.on_event(Ev("view", T0 + 3 * DAY))
    writes = proc.checkpoint()
    assert not [k for k, _ in writes if k.startswith(DUE_ENGINE)]  # the entry stays at T0 + 7d
    assert proc.on_wall_clock(T0 + 7 * DAY).firings == []  # reached: the state's deadline is T0 + 10d
    moved = [k for k, _ in proc.checkpoint() if k.startswith(DUE_ENGINE)]
    assert moved == [first, due_key(DUE_ENGINE, T0 + 10 * DAY, "u1")]
    restarted = PartitionRuntime(eng, proc.config, {}, PartitionStore(0, proc.store.db, RecordCache(1 << 20), None),
                                 StreamClock(0, replay=False))  # fmt: skip
    assert restarted.on_wall_clock(T0 + 9 * DAY).firings == []
    assert [(f.trigger_id, f.at_ms) for f in restarted.on_wall_clock(T0 + 11 * DAY).firings] == [
        ("quiet", T0 + 10 * DAY)
    ]


def test_replay_mode_ignores_the_wall_clock() -> None:
    proc = partition(engine(INACTIVITY))
    proc.on_event(Ev("app_open", T0))
    assert proc.on_wall_clock(T0 + 40 * DAY).firings == []


MILESTONE = """
triggers:
  - {id: tenth, kind: milestone, mode: lifetime, on: purchase, threshold: 3}
  - {id: spend, kind: milestone, mode: sum, on: purchase, field: price, window: 2d, hop: 1d, threshold: 100}
  - {id: streak, kind: milestone, mode: streak, on: app_open, days: 3}
  - {id: anniversary, kind: milestone, mode: anniversary, date: signup_ms}
"""


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([Ev("purchase", T0 + i, price=1.0) for i in range(4)], [("u1", "tenth", T0 + 2)]),
        # hopping 2d/1d windows: 60 + 50 crosses 100 in both windows containing the second day
        (
            [Ev("purchase", T0, price=60.0), Ev("purchase", T0 + DAY, price=50.0)],
            [("u1", "spend", T0 + DAY)],
        ),
        ([Ev("app_open", T0 + i * DAY) for i in range(4)], [("u1", "streak", T0 + 2 * DAY)]),
        ([Ev("app_open", T0), Ev("app_open", T0 + DAY), Ev("app_open", T0 + 3 * DAY)], []),
    ],
)
def test_milestone(events: list, expected: list) -> None:
    assert run(MILESTONE, events) == expected


def test_anniversary_fires_yearly() -> None:
    signup = T0 - 360 * DAY
    fired = run(MILESTONE, [Profile("u1", signup_ms=signup, updated_at_ms=T0)], until=T0 + 400 * DAY)
    assert [f[1] for f in fired] == ["anniversary"]
    assert fired[0][2] - signup in (365 * DAY, 366 * DAY)


SEQUENCE = """
triggers:
  - id: onboard
    kind: sequence
    on: signup
    goal: purchase
    steps: [{after: 1d, unless_done: [view]}, {after: 3d, if_done: [view], unless_done: [cart]}, {after: 7d}]
"""


@pytest.mark.parametrize(
    ("events", "until", "steps"),
    [
        ([Ev("signup", T0)], T0 + 8 * DAY, [T0 + DAY, T0 + 7 * DAY]),
        ([Ev("signup", T0), Ev("view", T0 + HOUR)], T0 + 8 * DAY, [T0 + 3 * DAY, T0 + 7 * DAY]),
        ([Ev("signup", T0), Ev("view", T0 + HOUR), Ev("cart", T0 + 2 * HOUR)], T0 + 8 * DAY, [T0 + 7 * DAY]),
        ([Ev("signup", T0), Ev("purchase", T0 + 2 * DAY)], T0 + 8 * DAY, [T0 + DAY]),
        ([Ev("signup", T0), Ev("signup", T0 + HOUR)], T0 + 2 * DAY, [T0 + DAY]),
    ],
)
def test_sequence(events: list, until: int, steps: list) -> None:
    assert [f[2] for f in run(SEQUENCE, events, until=until)] == steps


RECO = """
triggers:
  - {id: fav_cat, kind: recommendation, source: new_arrival, by: category, min_affinity: 4, half_life: 7d}
  - {id: drop, kind: recommendation, source: price_drop, by: item, lookback: 3d}
"""


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([Ev("cart", T0, category="c"), Ev("view", T0, category="c"), Item("i9", "new_arrival", T0, "c")], ["fav_cat"]),
        # decayed below the bar two weeks later (4 * 0.25 = 1)
        (
            [Ev("cart", T0, category="c"), Ev("view", T0, category="c"), Item("i9", "new_arrival", T0 + 14 * DAY, "c")],
            [],
        ),
        ([Ev("view", T0, category="c"), Item("i9", "new_arrival", T0, "c")], []),
        ([Ev("view", T0, item_id="i1"), Item("i1", "price_drop", T0 + DAY, price=5.0, previous_price=9.0)], ["drop"]),
        ([Ev("view", T0, item_id="i1"), Item("i1", "price_drop", T0 + 4 * DAY, price=5.0, previous_price=9.0)], []),
        ([Ev("view", T0, item_id="i1"), Item("i1", "price_drop", T0 + DAY, price=9.0, previous_price=5.0)], []),
        ([Ev("view", T0, item_id="i2"), Item("i1", "price_drop", T0 + DAY, price=5.0, previous_price=9.0)], []),
    ],
)
def test_recommendation(events: list, expected: list) -> None:
    assert [f[1] for f in run(RECO, events)] == expected


def test_a_catalogue_update_before_any_checkpoint_finds_the_fans_gained_since_the_last_one() -> None:
    proc = partition(engine(RECO))
    proc.on_event(Ev("view", T0, "u1", item_id="i1"))
    drop = Item("i1", "price_drop", T0 + HOUR, price=5.0, previous_price=9.0)
    assert [f.user_id for f in proc.on_catalog(drop).firings] == ["u1"]  # type: ignore[arg-type]
    proc.on_event(Ev("view", T0 + 2 * HOUR, "u2", item_id="i1"))  # gained after the first lookup
    later = Item("i1", "price_drop", T0 + 3 * HOUR, price=4.0, previous_price=5.0)
    assert sorted(f.user_id for f in proc.on_catalog(later).firings) == ["u1", "u2"]  # type: ignore[arg-type]
    proc.checkpoint()
    assert proc.store.fans.users(["i:i1"]) == {"u1", "u2"}


def test_fanout_touches_only_candidates() -> None:
    proc = partition(engine(RECO))
    for i in range(200):
        for _ in range(2):
            proc.on_event(Ev("cart", T0, f"u{i}", category="c" if i < 3 else "other"))
    proc.checkpoint()
    proc.store.cache.drop_where(lambda key: False)  # everyone read from the store from here on
    loads: list[str] = []
    read = proc.store.user
    proc.store.user = lambda user_id: loads.append(user_id) or read(user_id)  # type: ignore[method-assign]
    fired = proc.on_catalog(Item("new", "new_arrival", T0, "c")).firings  # type: ignore[arg-type]
    assert sorted(f.user_id for f in fired) == ["u0", "u1", "u2"]
    assert sorted(set(loads)) == ["u0", "u1", "u2"]


BY_CREATOR = """
triggers:
  - {id: fav_artist, kind: recommendation, source: new_arrival, by: creator, min_affinity: 4, half_life: 7d}
"""


def test_recommendation_by_creator_finds_fans_through_the_index() -> None:
    fans = [Ev("cart", T0, f"u{i}", creator="band") for i in range(3)] + [
        Ev("view", T0, f"u{i}", creator="band") for i in range(3)
    ]
    other = [Ev("cart", T0, "x", category="band"), Ev("view", T0, "x", category="band")]  # a category, not a creator
    fired = run(BY_CREATOR, [*fans, *other, Item("album", "new_arrival", T0, creator="band")])
    assert sorted(f[0] for f in fired) == ["u0", "u1", "u2"]


RECO_BARS = """
triggers:
  - {id: fav_cat, kind: recommendation, source: new_arrival, by: category, min_affinity: 4, half_life: 7d}
  - {id: fav_band, kind: recommendation, source: new_arrival, by: creator, min_affinity: 2, half_life: 7d}
"""


@pytest.mark.parametrize("categories", [10, 25])  # under and past the affinity bound (16 keys)
def test_the_fanout_index_kept_by_difference_equals_one_rebuilt_from_the_states(categories: int) -> None:
    """Random events of few users over categories and creators (scores rising over the bar and, decayed,
    falling under it): after every event the index equals `Engine.index_keys` of every state."""
    import random

    rng = random.Random(categories)
    eng = engine(RECO_BARS)
    assert eng.min_affinity == 2  # a by-item trigger would make it 0: every affinity a key
    proc = partition(eng)
    t = T0
    for step in range(3000):
        t += rng.choice([MIN, HOUR, DAY, 5 * DAY, 20 * DAY])
        category, creator = rng.choice([None, *(f"c{k}" for k in range(categories))]), rng.choice([None, "b1", "b2"])
        proc.on_event(Ev(rng.choice(["view", "cart", "fav", "purchase", "app_open"]), t, f"u{rng.randrange(6)}",
                         item_id=f"i{rng.randrange(60)}", category=category, creator=creator))  # fmt: skip
        for user_id, record in proc.store.users.items():
            assert record.tastes | {f"i:{item}" for item in record.items} == eng.index_keys(record.state), user_id
        if step % 50 == 49:  # and what the checkpoint writes is the index rebuilt from the states
            proc.checkpoint()
            expected: dict[str, set[str]] = {}
            for user_id in (f"u{k}" for k in range(6)):
                for key in eng.index_keys(proc.store.user(user_id).state):
                    expected.setdefault(key, set()).add(user_id)
            assert {key: proc.store.fans.users([key]) for key in expected} == expected
            assert len(list(proc.store.db.range(b"f", b"g"))) == sum(len(u) for u in expected.values())
