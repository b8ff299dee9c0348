"""The pure trigger engine: state, events and time in, new state and firings out; no I/O."""
