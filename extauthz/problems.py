"""The catalogue of problems (RFC 9457) the sidecar answers with, and their JSON bodies.

Slugs are a public contract: clients match on `type`, so never rename one.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

TYPE_BASE: Final = "https://tollgate.dev/problems/"
CONTENT_TYPE: Final = "application/problem+json"


@dataclass(frozen=True, slots=True)
class Problem:
    slug: str
    status: int
    title: str
    detail: str
    body: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", self.json(self.detail).encode())

    @property
    def type(self) -> str:
        return TYPE_BASE + self.slug

    def json(self, detail: str, extensions: Mapping[str, object] | None = None) -> str:
        """This problem's JSON with its own `detail` and extension members (RFC 9457 3.2):
        how the gateway tells one occurrence apart, e.g. which retired version and its successor.
        """
        document = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": detail,
            **(extensions or {}),
        }
        return json.dumps(document, separators=(",", ":"))


MISSING_CREDENTIALS: Final = Problem(
    "missing-credentials",
    401,
    "Missing credentials",
    "Send your API key in the x-api-key header or as 'Authorization: Bearer <key>'.",
)
INVALID_CREDENTIALS: Final = Problem(
    "invalid-credentials",
    401,
    "Invalid credentials",
    "The API key is not valid.",
)
REVOKED_CREDENTIALS: Final = Problem(
    "revoked-credentials",
    401,
    "Revoked credentials",
    "The API key has been revoked. Use another key of this application or issue a new one.",
)
EXPIRED_CREDENTIALS: Final = Problem(
    "expired-credentials",
    401,
    "Expired credentials",
    "The API key has expired. Use another key of this application or issue a new one.",
)
NOT_SUBSCRIBED: Final = Problem(
    "not-subscribed",
    403,
    "Not subscribed",
    "The application has no active subscription to this API.",
)
UNKNOWN_API: Final = Problem(
    "unknown-api",
    404,
    "Unknown API",
    "No API is published at this address.",
)
VERSION_RETIRED: Final = Problem(
    "version-retired",
    410,
    "API version retired",
    "This version of the API has been retired. See the API's documentation for its successor.",
)
# Only reached if Check is called before the sidecar has received any credentials.
UNAVAILABLE: Final = Problem(
    "authorization-unavailable",
    503,
    "Authorization unavailable",
    "The gateway's authorization service has no credentials yet; the request was not sent.",
)

INVALID_TOKEN: Final = Problem(
    "invalid-token",
    401,
    "Invalid token",
    "The bearer token was refused.",
)
INSUFFICIENT_SCOPE: Final = Problem(
    "insufficient-scope",
    403,
    "Insufficient scope",
    "The token does not carry a scope this operation needs.",
)
UNREGISTERED_TOKEN_CLIENT: Final = Problem(
    "invalid-token",
    401,
    "Invalid token",
    "The bearer token is valid, but its client is not registered to an application here.",
)
UNKNOWN_CERTIFICATE: Final = Problem(
    "invalid-credentials",
    401,
    "Invalid credentials",
    "The client certificate is not registered to an application.",
)
REVOKED_CERTIFICATE: Final = Problem(
    "revoked-credentials",
    401,
    "Revoked credentials",
    "The client certificate has been revoked for this application.",
)
EXPIRED_CERTIFICATE: Final = Problem(
    "expired-credentials",
    401,
    "Expired credentials",
    "The client certificate has expired. Register its successor.",
)
REVOKED_TOKEN_CLIENT: Final = Problem(
    "revoked-credentials",
    401,
    "Revoked credentials",
    "The token's client has been revoked for this application.",
)

CATALOGUE: Final = (
    MISSING_CREDENTIALS,
    INVALID_CREDENTIALS,
    REVOKED_CREDENTIALS,
    EXPIRED_CREDENTIALS,
    NOT_SUBSCRIBED,
    UNKNOWN_API,
    VERSION_RETIRED,
    UNAVAILABLE,
    INVALID_TOKEN,
    INSUFFICIENT_SCOPE,
)
