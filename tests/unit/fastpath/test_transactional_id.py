"""Each worker's transactional id: stable across its restarts, distinct between workers."""

from __future__ import annotations

import socket

from streams.fastpath.transaction import transactional_id


def test_the_default_is_the_app_the_host_and_the_web_port() -> None:
    assert transactional_id("nudge", 6066) == f"nudge-{socket.gethostname()}-6066"
    assert transactional_id("nudge", 6066) != transactional_id("nudge", 6067)  # two workers on one host


def test_a_configured_id_wins() -> None:
    assert transactional_id("nudge", 6066, "nudge-streams-2") == "nudge-streams-2"
