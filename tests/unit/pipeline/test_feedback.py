"""Attribution helpers of the feedback agents: batches per user, counts on the wire, the bounded board."""

from __future__ import annotations

import json
import random
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.codec import encode
from schemas.records import BehaviorEvent
from streams.analytics.attribution import AnalyticsConfig, Count, UserAttribution
from streams.analytics.metrics import MetricsBoard
from streams.fastpath.pack import pack_entries
from streams.pipeline.feedback import (
    BOARD_RETENTION_MS,
    EVENT,
    OTHER,
    Attribution,
    _time_of,
    add_to_board,
    attribute_batch,
    decode_counts,
    encode_counts,
    encode_state,
)
from streams.pipeline.prometheus import PipelineMetrics
from streams.pipeline.topics import EngineTopics
from tests.support.records import decision, delivery, event

CFG = AnalyticsConfig()
AT = 1_717_243_200_000  # 2024-06-01T12:00Z
DAY = 86_400_000


def test_a_batch_attributes_each_users_records_in_order_grouped_by_trigger() -> None:
    states: dict[str, UserAttribution] = {}
    records = [
        ("u1", decision("u1", "j1", "queued", AT, "promo"), AT),
        ("u1", delivery("u1", "j1", AT + 1, trigger="promo"), AT + 1),
        ("u1", event("u1", "notification_opened", AT + 2, "j1"), AT + 2),
        ("u2", decision("u2", "j2", "holdout", AT, "promo"), AT),
        ("u2", event("u2", "purchase", AT + 3), AT + 3),
        ("u1", event("u1", "purchase", AT + 4), AT + 4),
    ]
    grouped = attribute_batch(states, records, CFG)
    names = sorted((c.variant, c.name) for c in grouped["promo"])
    assert names == sorted([("default", "fired"), ("default", "sent"), ("default", "delivered"), ("default", "opened"),
                            ("holdout", "fired"), ("holdout", "holdout"), ("holdout", "converted"),
                            ("default", "converted"), ("default", "retained"), ("holdout", "retained")])  # fmt: skip
    assert set(states) == {"u1", "u2"}


def test_old_touches_are_pruned_before_a_late_record_is_applied() -> None:
    states: dict[str, UserAttribution] = {}
    attribute_batch(states, [("u1", decision("u1", "j1", "queued", AT, "promo"), AT)], CFG)
    grouped = attribute_batch(states, [("u1", event("u1", "purchase", AT + 10 * DAY), AT + 10 * DAY)], CFG)
    assert grouped == {} and states["u1"].touches == {}


def test_counts_survive_the_repartition_topic() -> None:
    counts = [Count("t", "v", AT, "fired"), Count("t", "v", AT, "suppressed", "quiet_hours")]
    assert decode_counts(encode_counts(counts)) == counts


def test_the_board_forgets_windows_past_the_retention() -> None:
    board = MetricsBoard(window_ms=DAY)
    add_to_board(board, [Count("t", "v", AT, "fired")])
    touched = add_to_board(board, [Count("t", "v", AT + BOARD_RETENTION_MS + DAY, "fired")])
    assert list(board.cells) == [("t", "v", AT + BOARD_RETENTION_MS + DAY)] and touched == set(board.cells)


def mixed_records(seed: int, users: int = 30, count: int = 1_500) -> list[Any]:
    """Decisions, deliveries and events of a few users, times mostly rising, some late."""
    rng = random.Random(seed)
    out: list[Any] = []
    at = AT
    for i in range(count):
        at += rng.randint(0, 3 * 3_600_000)
        user = f"u{rng.randrange(users)}"
        job = f"j{rng.randrange(count // 10)}"
        kind = rng.random()
        when = at - rng.randint(0, 2 * DAY) if rng.random() < 0.1 else at
        if kind < 0.1:
            outcome = rng.choice(["queued", "holdout", "suppressed", "expired"])
            out.append(decision(user, job, outcome, when, rng.choice(["promo", "reengage"]), "a", decision_id=f"d{i}"))
        elif kind < 0.15:
            out.append(delivery(user, job, when, trigger="promo", variant="a"))
        else:
            type_ = rng.choice(["view"] * 12 + ["cart", "fav", "purchase", "app_open", "notification_opened",
                                                "notification_clicked"])  # fmt: skip
            out.append(event(user, type_, when, job if type_.startswith("notification") else None))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_batch_stage_counts_and_keeps_what_attribute_batch_does(seed: int) -> None:
    records = mixed_records(seed)
    expected_states: dict[str, UserAttribution] = {}
    expected = attribute_batch(expected_states, [(r.user_id, r, _time_of(r)) for r in records], CFG)
    users: dict[bytes, bytes] = {}
    stage = Attribution(None, users, EngineTopics.named("", "app"), PipelineMetrics.build(CollectorRegistry()), CFG)  # type: ignore[arg-type]
    entries = [(EVENT if isinstance(r, BehaviorEvent) else OTHER, r.user_id.encode(), encode(r)) for r in records]
    messages = [SimpleNamespace(key=None, value=m) for m in pack_entries(entries, chunk_bytes=4_000)]
    half = len(messages) // 2
    stage.attribute(0, messages[:half])
    # a flush in between: changed states go to the table, memory is dropped and re-read from it
    users.update({u.encode(): encode_state(s) for u, s in stage.states[0].items() if s.touches or u.encode() in users})
    counted = {t: list(c) for t, c in stage.pending.items()}
    stage.pending.clear()
    stage.forget()
    stage.attribute(0, messages[half:])
    for t, c in stage.pending.items():
        counted.setdefault(t, []).extend(c)
    users.update({u.encode(): encode_state(s) for u, s in stage.states[0].items() if s.touches or u.encode() in users})
    assert counted == dict(expected) and sum(map(len, counted.values())) > 50
    kept = {u: s.to_dict() for u, s in expected_states.items() if s.touches}
    assert {k.decode(): json.loads(v) for k, v in users.items() if json.loads(v)["t"]} == kept


def test_a_delivery_results_wall_clock_time_prunes_no_touch_in_a_replay() -> None:
    """A replay's delivery results carry today's wall clock, years after the events: no touch may go by it."""
    states: dict[str, UserAttribution] = {}
    queued = decision("u1", "j1", "queued", AT)
    result = delivery("u1", "j1", AT + 900 * DAY)
    purchase = event("u1", "purchase", AT + 3_600_000)
    records = [("u1", r, _time_of(r)) for r in (queued, result, purchase)]
    names = [c.name for c in attribute_batch(states, records, CFG)["cart_abandoned"]]
    assert _time_of(result) is None and "converted" in names, names
