"""Errors of the stream pipeline."""


class PipelineError(Exception):
    """Root of every pipeline error."""


class StartupError(PipelineError):
    """The worker cannot start with this configuration; the message names the file and key."""
