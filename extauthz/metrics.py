"""How the sidecar's decisions ended, per transport: counted on the request path as plain
ints, turned into Prometheus counters only when /metrics is scraped.

prometheus_client's Counter.inc takes a lock per call and a labelled child costs a lookup;
here a request costs one attribute or dict increment. Labels are the transport, the outcome
and a denial's problem slug (a fixed catalogue), never who called: per-client figures are
the access log's rollups.

Under CPython's GIL an increment with no call inside it cannot be split by a thread switch
(the interpreter switches only at calls and backward jumps), so the gRPC threads count
exactly without a lock. A free-threaded build would need per-thread counts.
"""

from collections.abc import Awaitable, Iterator, Mapping
from typing import Final

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from extauthz.answers import DENIALS, Allowance, Denial
from extauthz.decision import presented_key_id
from extauthz.gate import Gate, Render, render_http
from extauthz.http_server import Handler, Headers
from extauthz.meter import UNMETERED, Outcome, Unavailable
from extauthz.route_context import ROUTE_HEADER, RouteContext, from_header
from ratelimit_svc.leases import Admitted

OUTCOMES: Final = ("allowed", "denied", "throttled", "counters_down", "failed")
HTTP: Final = "http"
GRPC: Final = "grpc"


class Decisions:
    """One transport's counts since the sidecar started."""

    __slots__ = ("allowed", "counters_down", "denied", "failed", "throttled")

    def __init__(self) -> None:
        self.allowed = 0
        self.throttled = 0  # refused by a limit: Redis's answer, a remembered one, or local
        self.counters_down = 0  # a fail-closed route while the counters are unreachable
        self.failed = 0  # the transport answered 500 (INTERNAL): a bug, logged where it happened
        # Every known problem from the start, so each series exists before its first denial.
        self.denied: dict[str, int] = dict.fromkeys(DENIALS, 0)

    def deny(self, slug: str) -> None:
        denied = self.denied
        try:
            denied[slug] += 1
        except KeyError:  # a slug added after start-up (the catalogue grew)
            denied[slug] = 1

    def fail(self) -> None:
        self.failed += 1

    def counting(self, render: Render) -> Render:
        """`render`, counting each outcome of counting an allowed caller as it renders it.
        Every allowed caller's answer is rendered once, on both the memory and the Redis path."""

        def counted(
            allowance: Allowance, outcome: Outcome, route: RouteContext, key_id: str
        ) -> bytes:
            # UNMETERED: a subscription with no limits, allowed without counting.
            if outcome is UNMETERED or isinstance(outcome, Admitted):
                self.allowed += 1
            elif isinstance(outcome, Unavailable):
                self.counters_down += 1
            else:
                self.throttled += 1
            return render(allowance, outcome, route, key_id)

        return counted


def counted_http(gate: Gate, decisions: Decisions) -> Handler:
    """`gate.http`, counting each request's outcome (Gate.answer, with the denial's slug
    kept: its HTTP bytes no longer say which problem it was)."""
    who = gate.who
    count = gate.count
    denied = decisions.denied
    render = decisions.counting(render_http)

    def http(headers: Headers) -> bytes | Awaitable[bytes]:
        route = from_header(headers.get(ROUTE_HEADER))
        decided = who(headers, route)
        if isinstance(decided, Denial):
            try:
                denied[decided.slug] += 1  # Decisions.deny, inlined: a call costs more
            except KeyError:
                decisions.deny(decided.slug)
            return decided.http
        assert route is not None  # decide denies every request without one
        return count(decided, route, render, presented_key_id(headers))

    return http


class DecisionCollector(Collector):
    """The counts of every transport, read at scrape time."""

    def __init__(self, transports: Mapping[str, Decisions]) -> None:
        self._transports = dict(transports)

    def collect(self) -> Iterator[CounterMetricFamily]:
        checks = CounterMetricFamily(
            "tollgate_extauthz_checks",
            "Checks answered, by transport and outcome (denied: before counting; throttled: "
            "refused by a limit; counters_down: a fail-closed route while Redis is unreachable)",
            labels=("transport", "outcome"),
        )
        denials = CounterMetricFamily(
            "tollgate_extauthz_denials",
            "Checks denied before counting, by transport and problem type (slug)",
            labels=("transport", "problem"),
        )
        for transport, counts in self._transports.items():
            # A copy in one C call: a gRPC thread may add a slug meanwhile.
            denied = dict(counts.denied)
            figures = (
                counts.allowed,
                sum(denied.values()),
                counts.throttled,
                counts.counters_down,
                counts.failed,
            )
            for outcome, value in zip(OUTCOMES, figures, strict=True):
                checks.add_metric((transport, outcome), value)
            for slug, value in sorted(denied.items()):
                denials.add_metric((transport, slug), value)
        yield checks
        yield denials
