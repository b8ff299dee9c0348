"""Decision policies for tests that must send the same at any hour of the day."""

from streams.bench.policies import write_without_quiet_hours

__all__ = ["write_without_quiet_hours"]
