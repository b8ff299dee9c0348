"""`nudge explain`: decisions written with the codec to a real topic come back as the user's story."""

from __future__ import annotations

from confluent_kafka import Producer

from schemas.codec import encode
from streams.commands.explain import explain_user
from streams.decisions import DecisionState, cancel, decide, on_timer, parse_config
from tests.unit.decisions.support import BASE_TEMPLATES, firing, ms, profile


def test_explain_prints_one_users_story_in_time_order(kafka_bootstrap: str, topic_factory) -> None:
    topic = topic_factory("notifications.decisions", partitions=3)
    cfg = parse_config(
        {
            "default_holdout_pct": 0,
            "quiet_hours": {"start": "22:00", "end": "08:00"},
            "budget": {"max": 5, "per": "24h", "min_gap": 0},
            "templates": BASE_TEMPLATES,
        }
    )
    night, morning = ms("2024-06-01T23:00"), ms("2024-06-02T07:00")
    london = profile("ann", time_zone="Europe/London")
    cart = decide(firing("ann", n="c1", at_ms=night, cancel_key="cart:c1"), london, DecisionState(), cfg, night)
    other = decide(
        firing("ann", n="c2", at_ms=night + 1000, cancel_key="cart:c2"), london, cart.state, cfg, night + 1000
    )
    bought = cancel("cart:c1", other.state, night + 60_000, reason="purchase")
    sent = on_timer(other.timers[0].key, london, bought.state, cfg, morning)
    quitter = decide(firing("bob"), profile("bob", unsubscribed=True), DecisionState(), cfg, night)
    story = [*cart.decisions, *other.decisions, *bought.decisions, *sent.decisions]

    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for d in reversed(story + quitter.decisions):  # written out of order: the story is sorted by time
        producer.produce(topic, key=d.user_id.encode(), value=encode(d))
    producer.produce(topic, key=b"ann", value=b"not avro")  # a bad record is counted, not fatal
    producer.flush(15)

    lines: list[str] = []
    assert explain_user("ann", kafka_bootstrap, topic, out=lines.append) == 0
    assert lines[0] == "Decisions for user ann (4):"
    body = lines[1:5]
    assert [line.split()[3] for line in body] == ["deferred", "deferred", "cancelled", "queued"]
    assert "until 2024-06-02 07:00:00Z" in body[0] and "(quiet_hours)" in body[0]
    assert "(purchase)" in body[2] and cart.decisions[0].job_id in body[2]
    assert body[3].startswith("  2024-06-02 07:00:00Z  t/default  queued") and other.decisions[0].job_id in body[3]
    assert lines[5] == "Totals: cancelled 1, deferred 2, queued 1"
    assert lines[6] == "(1 undecodable record(s) on the topic were skipped)"

    lines.clear()
    assert explain_user("bob", kafka_bootstrap, topic, out=lines.append) == 0
    assert "suppressed (unsubscribed)" in lines[1]
    lines.clear()
    assert explain_user("nobody", kafka_bootstrap, topic, out=lines.append) == 0
    assert lines == ["No decisions for user nobody."]


def test_explain_reports_a_missing_topic(kafka_bootstrap: str, unique: str) -> None:
    lines: list[str] = []
    assert explain_user("ann", kafka_bootstrap, f"missing.{unique}", out=lines.append, timeout_s=5) == 1
    assert lines[0].startswith(f"cannot read missing.{unique}")
