"""Attribution helpers of the feedback agents: batches per user, counts on the wire, the bounded board."""

from __future__ import annotations

from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision
from streams.analytics.attribution import AnalyticsConfig, Count, UserAttribution
from streams.analytics.metrics import MetricsBoard
from streams.pipeline.feedback import (
    BOARD_RETENTION_MS,
    add_to_board,
    attribute_batch,
    decode_counts,
    encode_counts,
    relevant_event,
)

CFG = AnalyticsConfig()
AT = 1_717_243_200_000  # 2024-06-01T12:00Z
DAY = 86_400_000


def decision(user: str, job: str, outcome: str, variant: str = "default") -> NotificationDecision:
    return NotificationDecision(decision_id=f"d-{job}", job_id=job, firing_id="f", user_id=user, trigger_id="promo",
                                variant=variant, outcome=outcome, event_time_ms=AT)  # fmt: skip


def event(user: str, type_: str, at: int, job: str | None = None) -> BehaviorEvent:
    return BehaviorEvent(event_id=f"{user}{type_}{at}", user_id=user, type=type_, event_time_ms=at, job_id=job)


def test_a_batch_attributes_each_users_records_in_order_grouped_by_trigger() -> None:
    states: dict[str, UserAttribution] = {}
    records = [
        ("u1", decision("u1", "j1", "queued"), AT),
        (
            "u1",
            DeliveryResult(
                job_id="j1",
                user_id="u1",
                trigger_id="promo",
                variant="default",
                provider="fcm",
                status="sent",
                attempt=1,
                at_ms=AT + 1,
            ),
            AT + 1,
        ),
        ("u1", event("u1", "notification_opened", AT + 2, "j1"), AT + 2),
        ("u2", decision("u2", "j2", "holdout", "holdout"), AT),
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
    attribute_batch(states, [("u1", decision("u1", "j1", "queued"), AT)], CFG)
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


def test_only_events_that_can_change_a_count_go_to_attribution() -> None:
    assert relevant_event(event("u", "purchase", AT), CFG)
    assert relevant_event(event("u", "notification_clicked", AT, "j"), CFG)
    assert relevant_event(event("u", "view", AT), CFG)  # retention: active again after a push
    assert not relevant_event(event("u", "signup", AT), CFG)
