"""Errors of the simulator."""

from __future__ import annotations


class SimulatorError(Exception):
    pass


class BadConfigError(SimulatorError):
    pass
