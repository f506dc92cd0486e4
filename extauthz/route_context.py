"""What a compiled route tells the sidecar about itself: API, version, route, lifecycle,
owner, sunset, cost and failure mode. Envoy did the matching; the sidecar never re-matches.

On gRPC it arrives as the route's `context_extensions`; on HTTP as one JSON header that
the gateway sets per route (header_mutation, before ext_authz, overwriting any copy the
client sent). Both are the same string map, written by mgmt's compiler.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

# The header the gateway sets per route in HTTP mode.
ROUTE_HEADER: Final = "x-tollgate-route"
# Costs beyond this are refused by the compiler; anything else here is a forged or broken value.
MAX_COST: Final = 10_000
# Distinct header values parsed and kept; a compiled gateway has one per route.
_CACHE_SIZE: Final = 65_536


@dataclass(frozen=True, slots=True)
class RouteContext:
    api: str
    version: str
    route: str
    lifecycle: str
    owner: str
    sunset: int  # unix seconds, 0: none
    retired_body: str
    cost: int
    fail_closed: bool
    closed_status: int  # what a fail-closed route answers while the counters are unreachable
    draft03: bool  # also the x-ratelimit-* headers (IETF draft 03)
    # OAuth2 scopes a bearer token must carry here, and the accepted issuers' policies.
    scopes: tuple[str, ...] = ()
    token_policies: "Mapping[str, TokenPolicy]" = field(default_factory=dict)

    @classmethod
    def of(cls, values: Mapping[str, str]) -> "RouteContext | None":
        """The context of a compiled route, or None when it names no API (no Tollgate route)."""
        api = values.get("api", "")
        if not api:
            return None
        sunset = values.get("sunset", "")
        cost = values.get("cost", "1")
        return cls(
            api=api,
            version=values.get("version", ""),
            route=values.get("route", ""),
            lifecycle=values.get("lifecycle", ""),
            owner=values.get("owner", ""),
            sunset=int(sunset) if _digits(sunset) and len(sunset) < 16 else 0,
            retired_body=values.get("retired_body", ""),
            cost=_cost(cost),
            # Anything but an explicit "open" is closed: never unmetered by accident.
            fail_closed=values.get("failure", "closed") != "open",
            closed_status=_status(values.get("closed_status", "")),
            draft03=values.get("headers") == "draft03",
            scopes=tuple(values.get("scopes", "").split()),
            token_policies=_token_policies(values.get("tokens", "")),
        )


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """What RFC 8725 asks of an issuer's tokens beyond what Envoy's jwt_authn checks."""

    algorithms: frozenset[str]
    kid_required: bool
    client_headers: int  # how many TOKEN_CLIENT_HEADERS the provider sets


def token_policies_value(policies: Mapping[str, TokenPolicy]) -> str:
    """The `tokens` context value (the compiler writes it): issuer -> [algorithms, kid, n]."""
    if not policies:
        return ""
    document = {
        issuer: [sorted(p.algorithms), p.kid_required, p.client_headers]
        for issuer, p in sorted(policies.items())
    }
    return json.dumps(document, separators=(",", ":"))


def _token_policies(value: str) -> dict[str, TokenPolicy]:
    """Parsed from the compiler's `tokens` value; anything else accepts no token at all."""
    if not value:
        return {}
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return {}
    policies: dict[str, TokenPolicy] = {}
    if not isinstance(document, dict):
        return policies
    for issuer, entry in document.items():
        if (
            isinstance(entry, list)
            and len(entry) == 3
            and isinstance(entry[0], list)
            and all(isinstance(a, str) for a in entry[0])
            and isinstance(entry[1], bool)
            and isinstance(entry[2], int)
        ):
            policies[issuer] = TokenPolicy(frozenset(entry[0]), entry[1], entry[2])
    return policies


def _cost(value: str) -> int:
    """Never below one call; past MAX_COST, a cost no limit admits (and the compiler never
    writes); anything unreadable counts as one call."""
    if not _digits(value):
        return 1
    if len(value) > 5:
        return MAX_COST + 1
    return max(1, min(int(value), MAX_COST + 1))


def _digits(value: str) -> bool:
    """ASCII digits only: str.isdigit() also takes superscripts, which int() refuses."""
    return value.isascii() and value.isdigit()


def _status(value: str) -> int:
    """A 5xx from the compiler, else 503 (what Tollgate answers when a dependency is down)."""
    return int(value) if len(value) == 3 and _digits(value) and value[0] == "5" else 503


_parsed: dict[str, RouteContext | None] = {}


def from_header(value: str | None) -> RouteContext | None:
    """The context in the HTTP mode's route header; parsed once per distinct value."""
    if not value:
        return None
    context = _parsed.get(value, _MISSING)
    if context is not _MISSING:
        return context  # type: ignore[return-value]
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):  # deep nesting: not the compiler's
        document = None
    parsed = None
    if isinstance(document, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in document.items()
    ):
        parsed = RouteContext.of(document)
    if len(_parsed) >= _CACHE_SIZE:
        _parsed.clear()
    _parsed[value] = parsed
    return parsed


_MISSING: Final = object()


def header_value(values: Mapping[str, str]) -> str:
    """The route header's value for a context map (the compiler writes it)."""
    return json.dumps(dict(values), separators=(",", ":"), sort_keys=True)
