"""The ext_authz sidecar's exceptions.

Everything the sidecar raises on purpose derives from `ExtAuthzError`. Lower-layer
errors (protobuf decoding, bad environment values) are translated into these at the
boundary; only the xDS client maps them onward (to a NACK), and only the server maps
anything to a gRPC status.
"""


class ExtAuthzError(Exception):
    """Base class of every error the sidecar raises on purpose."""


class ConfigurationError(ExtAuthzError):
    """An environment setting is present but unusable (e.g. a port that is not a number)."""


class StoreError(ExtAuthzError):
    """An xDS update cannot be applied to the store; the last good data stays live.

    The message is sent back to the xDS server as the NACK's `error_detail`, so it must
    never contain a secret (key ids and shard names are fine: they are not secrets).
    """
