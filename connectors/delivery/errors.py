"""Errors of the delivery workers."""


class DeliveryError(Exception):
    """Root of every delivery error."""

    retriable = False


class ProviderConfigError(DeliveryError):
    """A provider cannot start: missing credentials, project id or URL. An operator must act."""


class ProviderUnavailable(DeliveryError):
    """The provider could not be reached at all."""

    retriable = True


class BenchCheckFailed(DeliveryError):
    """A throughput measurement lost, duplicated or failed a delivery: its figure is not valid."""
