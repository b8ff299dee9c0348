"""Nudge stream processing: the Faust app, the pure trigger engine and decisions."""
