"""The errors xds_server raises, one small hierarchy (in the shape of httpx's _exceptions).

Callers catch `XdsError` for anything of ours; the gRPC and HTTP boundaries translate
these into statuses or log lines, never the other way round.
"""


class XdsError(Exception):
    """Base class of every error raised by xds_server."""


class InvalidSnapshot(XdsError):
    """A snapshot could not be read: undecodable bytes, a type or a name given twice."""


class InconsistentSnapshot(InvalidSnapshot):
    """A snapshot whose resources reference each other wrongly; it is never served.

    `errors` holds one readable line per problem, meant for the API owner.
    """

    def __init__(self, version: str, errors: list[str]) -> None:
        self.version = version
        self.errors = list(errors)
        super().__init__(f"snapshot {version!r} is inconsistent: " + "; ".join(self.errors))


class EventsRefused(XdsError):
    """mgmt refused a batch of events for good (a 4xx other than auth): it is dropped."""


class SourceUnavailable(XdsError):
    """mgmt could not be reached, or answered something other than a snapshot."""


class CredentialsError(XdsError):
    """The credentials file cannot be read, or holds something other than valid credentials."""


class StreamRefused(XdsError):
    """A client's stream is ended: the server maps each subclass to one gRPC status."""


class Unauthenticated(StreamRefused):
    """No credential, or one that is unknown or revoked (UNAUTHENTICATED)."""


class PermissionDenied(StreamRefused):
    """A valid credential asking for what its role may not read, or for another node's name."""


class LimitExceeded(StreamRefused):
    """Too many names in one request, or too many streams on one credential (RESOURCE_EXHAUSTED)."""


class BadRequest(StreamRefused):
    """A request the protocol does not allow, such as a first request with no node."""
