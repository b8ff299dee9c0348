"""Errors of the pure trigger engine."""

from __future__ import annotations


class EngineError(Exception):
    """Root of every trigger-engine error."""


class TriggerConfigError(EngineError):
    """A trigger catalogue is invalid; `errors` lists every problem with its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class StateError(EngineError):
    """A serialised user state cannot be read."""
