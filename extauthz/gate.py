"""The one decision per request, for both transports: who calls (decision.py), then how
much they may (meter.py), rendered as the transport's answer.

Memory answers most requests at once (a denial, a lease, a remembered refusal); the rest
return an awaitable that completes after one Redis call.
"""

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from extauthz import answers
from extauthz.answers import Allowance, Denial
from extauthz.caller_ids import CALLER_HEADERS
from extauthz.decision import decide, presented_key_id
from extauthz.meter import (
    UNMETERED,
    Meter,
    Outcome,
    Unavailable,
    rate_limit_headers,
)
from extauthz.route_context import ROUTE_HEADER, RouteContext, from_header
from extauthz.store import Store
from ratelimit_svc.leases import Admitted, Refused

# Every header either transport needs to see: the key's two carriers, the route's identity,
# and what the gateway established of a token or a client certificate.
WANTED_HEADERS: Final = ("x-api-key", "authorization", ROUTE_HEADER, *CALLER_HEADERS)

# The allowance, what the meter said, the route, and the calling key's id (for the log).
Render = Callable[[Allowance, Outcome, RouteContext, str], bytes]


def render_http(allowance: Allowance, outcome: Outcome, route: RouteContext, key_id: str) -> bytes:
    if outcome is UNMETERED:
        return answers.http_allowed(allowance, [], key_id)
    if isinstance(outcome, Admitted):
        return answers.http_allowed(allowance, rate_limit_headers(outcome), key_id)
    if isinstance(outcome, Unavailable):
        return answers.counters_unavailable(route.closed_status).http
    return answers.http_refused(
        allowance, key_id, outcome.body, outcome.retry_after, rate_limit_headers(outcome)
    )


def render_grpc(allowance: Allowance, outcome: Outcome, route: RouteContext, key_id: str) -> bytes:
    if outcome is UNMETERED:
        return answers.grpc_allowed(allowance, [], key_id)
    if isinstance(outcome, Admitted):
        return answers.grpc_allowed(allowance, rate_limit_headers(outcome), key_id)
    if isinstance(outcome, Unavailable):
        return answers.counters_unavailable(route.closed_status).grpc
    return answers.grpc_refused(
        allowance, key_id, outcome.body, outcome.retry_after, rate_limit_headers(outcome)
    )


async def _rendered(
    allowance: Allowance,
    pending: Awaitable[Outcome],
    render: Render,
    route: RouteContext,
    key_id: str,
) -> bytes:
    return render(allowance, await pending, route, key_id)


class Gate:
    def __init__(self, store: Store, meter: Meter, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._meter = meter
        self._clock = clock

    def http(self, headers: Mapping[str, str]) -> bytes | Awaitable[bytes]:
        """Envoy's HTTP ext_authz: the route's identity is in the header the gateway sets."""
        return self.answer(headers, from_header(headers.get(ROUTE_HEADER)), render_http, True)

    def grpc(
        self, headers: Mapping[str, str], extensions: Mapping[str, str]
    ) -> bytes | Awaitable[bytes]:
        """Authorization/Check: the route's identity is in its context extensions."""
        return self.answer(headers, RouteContext.of(extensions), render_grpc, False)

    def answer(
        self,
        headers: Mapping[str, str],
        route: RouteContext | None,
        render: Render,
        http: bool,
    ) -> bytes | Awaitable[bytes]:
        decided = self.who(headers, route)
        if isinstance(decided, Denial):
            return decided.http if http else decided.grpc
        assert route is not None  # decide denies every request without one
        return self.count(decided, route, render, presented_key_id(headers))

    def who(self, headers: Mapping[str, str], route: RouteContext | None) -> Denial | Allowance:
        """Who calls, and may they: pure and thread-safe (the gRPC transport runs it on its
        own threads)."""
        return decide(headers, route, self._store, self._clock())

    def count(
        self, allowance: Allowance, route: RouteContext, render: Render, key_id: str
    ) -> bytes | Awaitable[bytes]:
        """Count an allowed call: on the event loop only."""
        meter = self._meter
        rule = meter.rule_of(allowance.subscription_id)
        if rule is None:
            return render(allowance, UNMETERED, route, key_id)
        outcome = meter.count(rule, route.cost, route.fail_closed, route.draft03)
        if isinstance(outcome, Admitted | Refused | Unavailable):
            return render(allowance, outcome, route, key_id)
        return _rendered(allowance, outcome, render, route, key_id)
