"""Errors of the analytics package."""

from __future__ import annotations


class AnalyticsError(Exception):
    pass


class BadStateError(AnalyticsError):
    pass
