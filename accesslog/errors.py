"""The access-log collector's exceptions.

Everything the collector raises on purpose derives from `AccessLogError`. A refused stream
is one of xds_server's `StreamRefused` errors (the same credentials, the same statuses), so
only `accesslog.server` maps anything to a gRPC status.
"""


class AccessLogError(Exception):
    """Base class of every error the collector raises on purpose."""


class ConfigurationError(AccessLogError):
    """An environment setting is missing or unusable (e.g. a port that is not a number)."""
