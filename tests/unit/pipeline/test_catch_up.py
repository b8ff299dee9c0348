"""CatchUp: caught up once every input partition is committed to its end; said once per catch-up."""

from __future__ import annotations

from faust.types import TP

from streams.pipeline.catch_up import CatchUp, is_input

A, B = TP("in", 0), TP("in", 1)


def test_caught_up_is_news_once_and_again_after_new_input() -> None:
    watch = CatchUp()
    assert not watch.update({A: 10, B: None}, {A: 10, B: 5}) and watch.behind == {A: 0, B: 5}
    assert watch.update({A: 10, B: 5}, {A: 10, B: 5}) and watch.caught_up
    assert not watch.update({A: 10, B: 5}, {A: 10, B: 5})  # still caught up: nothing new to say
    assert not watch.update({A: 10, B: 5}, {A: 12, B: 5}) and not watch.caught_up  # more input arrived
    assert watch.update({A: 12, B: 5}, {A: 12, B: 5})


def test_no_input_partition_yet_is_not_caught_up_and_changelogs_are_not_inputs() -> None:
    assert not CatchUp().update({}, {})
    assert is_input(A) and not is_input(TP("nudge-engine-state-changelog", 0))
