"""Network helpers for tests: the free port the demo and the benchmarks use too."""

from streams.ports import free_port

__all__ = ["free_port"]
