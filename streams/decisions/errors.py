"""Errors of the decision layer."""


class DecisionError(Exception):
    """Root of every decision-layer error."""


class DecisionConfigError(DecisionError):
    """The decision config (budgets, quiet hours, experiments) is invalid; fix the named key."""


class TemplateLoadError(DecisionConfigError):
    """A template does not compile or uses unknown variables; fix the named trigger/variant/locale."""


class TemplateRenderError(DecisionError):
    """A template failed at render time (becomes a `suppressed: template_error` decision)."""
