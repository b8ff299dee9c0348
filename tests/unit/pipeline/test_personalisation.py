"""What a person reads: the scenario of tests/support/personalised.py through the pure runtime, job by job."""

from __future__ import annotations

from typing import Any

import yaml

from schemas.codec import encode
from schemas.records import CatalogItem, NotificationJob, UserProfile
from streams.decisions import parse_config
from streams.engine.config import load_catalogue
from streams.engine.engine import Engine
from streams.pipeline.firings import policies
from streams.pipeline.runtime import Runtime
from streams.state.db import MemoryDB
from tests.support import personalised as scenario

WALL = scenario.T0 + 30 * scenario.DAY  # the wall clock of the check: every scenario time is in its past
KIND = {"BehaviorEvent": "event", "UserProfile": "profile", "CatalogItem": "catalog"}


def runtime(table: dict[int, MemoryDB]) -> Runtime:
    catalogue = load_catalogue((scenario.ROOT / "streams" / "triggers.yaml").read_text())
    config = parse_config(yaml.safe_load(scenario.decisions_yaml()))
    return Runtime(Engine(catalogue), config, policies(catalogue), lambda p: table.setdefault(p, MemoryDB()),
                   replay=True, allowed_lateness_ms=0,
                   max_value_bytes=65536)  # fmt: skip


def feed(rt: Runtime, records: list[Any]) -> list[NotificationJob]:
    jobs = []
    for i, record in enumerate(records):
        checked = rt.read(KIND[type(record).__name__], "in", 0, i, b"k", encode(record), WALL)
        assert not hasattr(checked, "error_kind"), checked
        jobs += rt.handle(0, checked, WALL).jobs
    return jobs


def run_scenario(table: dict[int, MemoryDB], restart_between_phases: bool = False) -> list[NotificationJob]:
    rt = runtime(table)
    jobs = []
    for phase in scenario.phases():
        clock = [scenario.event("clock", "view", phase.clock_ms)] if phase.clock_ms else []
        jobs += feed(rt, [*phase.records, *clock])
        if restart_between_phases:  # state, catalogue and waits survive a restart through the table
            rt.checkpoint()
            rt = runtime(table)
    return jobs


def pushes(jobs: list[NotificationJob]) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for job in jobs:
        out.setdefault(
            (job.user_id, job.trigger_id), {"title": job.title, "body": job.body, "image_url": job.image_url}
        )
    return out


def test_every_trigger_kinds_push_shows_the_item_price_cart_name_and_picture() -> None:
    jobs = run_scenario({})
    assert scenario.check(pushes(jobs)) == []


def test_the_same_pushes_when_the_worker_restarts_between_phases() -> None:
    assert pushes(run_scenario({}, restart_between_phases=True)) == pushes(run_scenario({}))


def test_a_signup_waits_for_its_profile_and_is_decided_once_it_is_read() -> None:
    rt = runtime({})
    signup = scenario.event("u1", "signup", scenario.T0)
    assert feed(rt, [signup]) == []  # no name yet: the welcome waits (up to await_profile)
    jobs = feed(rt, [scenario.profile("u1", "Ana", "de-DE", at=scenario.T0 + 1000)])
    assert [(j.trigger_id, j.title) for j in jobs] == [("welcome", "Willkommen, Ana 👋")]
    later = feed(rt, [scenario.event("clock", "view", scenario.T0 + scenario.HOUR)])
    assert [j for j in later if j.trigger_id == "welcome"] == []  # decided once


def test_without_a_profile_the_welcome_goes_out_after_the_wait_with_copy_that_needs_no_name() -> None:
    rt = runtime({})
    assert (
        feed(rt, [scenario.event("u2", "signup", scenario.T0), scenario.event("c", "view", scenario.T0 + 9 * 60_000)])
        == []
    )
    jobs = feed(rt, [scenario.event("c", "view", scenario.T0 + 11 * 60_000)])
    assert [(j.user_id, j.trigger_id, j.title) for j in jobs] == [("u2", "welcome", "Welcome 👋")]


def test_a_catalogue_update_reaches_a_later_cart_line_and_the_catalogue_is_stored() -> None:
    table: dict[int, MemoryDB] = {}
    rt = runtime(table)
    feed(rt, [CatalogItem(item_id="i9", kind="update", title="Blue Kettle", price=30.0, currency="GBP",
                          image_url="https://img.nudge.example/i9.jpg", event_time_ms=scenario.T0)])  # fmt: skip
    rt.checkpoint()
    rt = runtime(table)  # a new runtime reads the catalogue back from the table
    feed(rt, [UserProfile(user_id="u3", first_name="Bo", locale="en-GB", updated_at_ms=scenario.T0)])
    jobs = feed(rt, [scenario.event("u3", "cart", scenario.T0 + 1000, item_id="i9", cart_id="k"),
                     scenario.event("c", "view", scenario.T0 + scenario.HOUR)])  # fmt: skip
    (job,) = [j for j in jobs if j.trigger_id == "cart_abandoned"]
    assert "Blue Kettle (£30.00)" in job.body and job.image_url == "https://img.nudge.example/i9.jpg"
