"""Faust integration of the trigger engine: agents, the state table, stream time and outputs."""
