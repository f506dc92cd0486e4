"""The sidecar's decision metrics, scraped for real: checks made over each transport move
exactly the outcome counters they should, and nothing names a caller."""

import asyncio
import http.client
import threading
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import pytest
import redis
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from extauthz.gate import Gate
from extauthz.http_server import Headers, new_event_loop, serve_http
from extauthz.meter import Meter
from extauthz.metrics import GRPC, HTTP, OUTCOMES, DecisionCollector, Decisions, counted_http
from extauthz.route_context import ROUTE_HEADER, header_value
from extauthz.server import RunningServer, start_server
from extauthz.store import Store
from ratelimit_svc.async_redis_store import AsyncCounterStore
from ratelimit_svc.subscription_rules import SubscriptionRules
from tests.extauthz.factories import (
    DRAFT_API,
    NOW,
    PUBLISHED_API,
    World,
    application_shards,
    credential_shards,
    route,
)
from tests.ratelimit_svc.helpers import limits, shards, window

T = TypeVar("T")
TIMEOUT = 10.0
# This file's own Redis database: the one-call-an-hour limit below starts from zero each run.
METRICS_REDIS_DB = 10
# Nothing listens on port 1: the counters are "down", refused at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
PARTNER_SUBSCRIPTION = int(World().partner.grants[0].subscription_id)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _redis_db(url: str, db: int) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def checks(samples: Samples, transport: str) -> dict[str, float]:
    return {
        outcome: samples[
            ("tollgate_extauthz_checks_total", (("outcome", outcome), ("transport", transport)))
        ]
        for outcome in OUTCOMES
    }


def denials(samples: Samples, transport: str) -> dict[str, float]:
    """The non-zero denial counts of one transport, by problem slug."""
    out = {}
    for (name, labels), value in samples.items():
        found = dict(labels)
        if name == "tollgate_extauthz_denials_total" and found["transport"] == transport and value:
            out[found["problem"]] = value
    return out


@dataclass
class Sidecar:
    """The sidecar's parts as `python -m extauthz` wires them, on loopback ports of their own."""

    loop: asyncio.AbstractEventLoop
    store: Store
    rules: SubscriptionRules
    counters: AsyncCounterStore
    http_port: int
    grpc: RunningServer
    metrics_port: int

    def call(self, function: Callable[[], Awaitable[T]]) -> T:
        return asyncio.run_coroutine_threadsafe(function(), self.loop).result(TIMEOUT)  # type: ignore[arg-type]


@pytest.fixture
def start_sidecar() -> Iterator[Callable[[str], Sidecar]]:
    loop = new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    cleanups: list[Callable[[], None]] = []

    def start(redis_url: str) -> Sidecar:
        store, rules = Store(), SubscriptionRules()
        counters = AsyncCounterStore(redis_url)
        meter = Meter(rules, counters)
        meter.bind(loop)
        gate = Gate(store, meter, clock=lambda: NOW)
        decisions = {HTTP: Decisions(), GRPC: Decisions()}
        registry = CollectorRegistry()
        registry.register(DecisionCollector(decisions))

        async def listen() -> asyncio.Server:
            return await serve_http(
                counted_http(gate, decisions[HTTP]),
                host="127.0.0.1",
                port=0,
                wanted=("x-api-key", "authorization", ROUTE_HEADER),
                on_failure=decisions[HTTP].fail,
            )

        server = asyncio.run_coroutine_threadsafe(listen(), loop).result(TIMEOUT)
        grpc_server = start_server(
            store,
            gate,
            loop,
            address="127.0.0.1",
            port=0,
            workers=2,
            decisions=decisions[GRPC],
        )
        metrics, metrics_thread = start_http_server(0, "127.0.0.1", registry=registry)
        sidecar = Sidecar(
            loop,
            store,
            rules,
            counters,
            server.sockets[0].getsockname()[1],
            grpc_server,
            metrics.server_port,
        )

        def stop() -> None:
            metrics.shutdown()
            metrics.server_close()
            metrics_thread.join(TIMEOUT)
            grpc_server.stop(0)
            server.close()
            sidecar.call(counters.close)

        cleanups.append(stop)
        return sidecar

    yield start
    for cleanup in cleanups:
        cleanup()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(TIMEOUT)
    loop.close()


def load(sidecar: Sidecar, world: World) -> None:
    sidecar.store.replace_credential_shards(credential_shards(world.credentials))
    sidecar.store.replace_application_shards(application_shards([world.partner, world.owner]))
    # One call an hour for the partner's subscription; the owner's draft one has no limits.
    sidecar.rules.replace_shards(shards([limits(PARTNER_SUBSCRIPTION, [window(1, 3600)])]))


@pytest.fixture
def metrics_redis(machine_redis: str) -> Iterator[str]:
    url = _redis_db(machine_redis, METRICS_REDIS_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.mark.redis
def test_http_checks_move_exactly_their_outcome_counters(
    start_sidecar: Callable[[str], Sidecar], metrics_redis: str
) -> None:
    sidecar = start_sidecar(metrics_redis)
    world = World()
    load(sidecar, world)
    published = header_value(route())
    draft = header_value(route(DRAFT_API, "draft"))
    before = scrape(sidecar.metrics_port)

    connection = http.client.HTTPConnection("127.0.0.1", sidecar.http_port, timeout=TIMEOUT)

    def status(**headers: str) -> int:
        connection.request(
            "GET", "/check", headers={k.replace("_", "-"): v for k, v in headers.items()}
        )
        answer = connection.getresponse()
        answer.read()
        return answer.status

    statuses = [
        status(x_tollgate_route=published),
        status(x_tollgate_route=published, x_api_key=world.secret("revoked")),
        status(x_tollgate_route=published, x_api_key=world.secret("partner")),
        status(x_tollgate_route=published, x_api_key=world.secret("partner")),
        status(x_tollgate_route=published, authorization=f"Bearer {world.secret('partner')}"),
        status(x_tollgate_route=draft, x_api_key=world.secret("owner")),
    ]
    connection.close()
    after = scrape(sidecar.metrics_port)

    assert statuses == [401, 401, 200, 429, 429, 200]
    assert checks(before, HTTP) == dict.fromkeys(OUTCOMES, 0)
    assert checks(after, HTTP) == {
        "allowed": 2,
        "denied": 2,
        "throttled": 2,
        "counters_down": 0,
        "failed": 0,
    }
    assert denials(after, HTTP) == {"missing-credentials": 1, "revoked-credentials": 1}
    # Every known problem is exported from the start, at zero until it happens.
    assert (
        "tollgate_extauthz_denials_total",
        (("problem", "not-subscribed"), ("transport", HTTP)),
    ) in before
    assert checks(after, GRPC) == dict.fromkeys(OUTCOMES, 0)


def _check(sidecar: Sidecar, headers: dict[str, str], extensions: dict[str, str]) -> int:
    request = external_auth_pb2.CheckRequest()
    request.attributes.request.http.headers.update(headers)
    request.attributes.context_extensions.update(extensions)
    with grpc.insecure_channel(f"127.0.0.1:{sidecar.grpc.port}") as channel:
        answer = external_auth_pb2_grpc.AuthorizationStub(channel).Check(request, timeout=TIMEOUT)
    if answer.status.code == 0:
        return 200
    code: int = answer.denied_response.status.code
    return code


def test_grpc_checks_count_counters_down_and_local_throttling_while_redis_is_unreachable(
    start_sidecar: Callable[[str], Sidecar],
) -> None:
    sidecar = start_sidecar(UNREACHABLE_REDIS)
    world = World()
    partner = {"x-api-key": world.secret("partner")}
    fail_open = {**route(), "failure": "open"}

    before_any_snapshot = _check(sidecar, partner, route())
    load(sidecar, world)
    statuses = [
        before_any_snapshot,
        _check(sidecar, {}, route()),
        _check(sidecar, partner, route()),  # fail-closed: the counters are down
        _check(sidecar, partner, fail_open),  # counted here alone: the one call of the hour
        _check(sidecar, partner, fail_open),  # and this sidecar's share is used up
        _check(sidecar, {"x-api-key": world.secret("owner")}, route(DRAFT_API, "draft")),
    ]
    after = scrape(sidecar.metrics_port)

    assert statuses == [503, 401, 503, 200, 429, 200]
    assert checks(after, GRPC) == {
        "allowed": 2,
        "denied": 2,
        "throttled": 1,
        "counters_down": 1,
        "failed": 0,
    }
    assert denials(after, GRPC) == {"authorization-unavailable": 1, "missing-credentials": 1}
    assert checks(after, HTTP) == dict.fromkeys(OUTCOMES, 0)


def test_labels_name_transports_outcomes_and_problems_never_a_caller(
    start_sidecar: Callable[[str], Sidecar],
) -> None:
    sidecar = start_sidecar(UNREACHABLE_REDIS)
    world = World()
    load(sidecar, world)
    _check(sidecar, {"x-api-key": world.secret("owner")}, route(DRAFT_API, "draft"))

    samples = scrape(sidecar.metrics_port)

    ours = {labels for name, labels in samples if name.startswith("tollgate_extauthz_")}
    assert {tuple(name for name, _ in labels) for labels in ours} == {
        ("outcome", "transport"),
        ("problem", "transport"),
    }
    callers = {"app_owner", "api-owner", str(world.owner.id), world.keys["owner"].key_id}
    assert not callers & {value for labels in ours for _, value in labels}


def test_a_failing_handler_is_counted_as_failed_on_both_of_its_paths(
    start_sidecar: Callable[[str], Sidecar],
) -> None:
    sidecar = start_sidecar(UNREACHABLE_REDIS)
    decisions = Decisions()

    async def later() -> bytes:
        raise RuntimeError("a bug after the Redis call")

    def failing(headers: Headers) -> bytes | Awaitable[bytes]:
        if headers.get("x-api-key") == "later":
            return later()
        raise RuntimeError("a bug before it")

    async def listen() -> asyncio.Server:
        return await serve_http(
            failing, host="127.0.0.1", port=0, wanted=("x-api-key",), on_failure=decisions.fail
        )

    server = sidecar.call(listen)
    port = server.sockets[0].getsockname()[1]
    for key in ("now", "later"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        connection.request("GET", "/check", headers={"x-api-key": key})
        assert connection.getresponse().status == 500
        connection.close()
    server.close()

    assert decisions.failed == 2


@pytest.mark.pure
def test_counted_http_answers_byte_for_byte_like_the_gate() -> None:
    world = World()
    store = world.store()
    gate = Gate(
        store, Meter(SubscriptionRules(), AsyncCounterStore(UNREACHABLE_REDIS)), lambda: NOW
    )
    decisions = Decisions()
    counted = counted_http(gate, decisions)
    published = header_value(route())
    requests: list[dict[str, Any]] = [
        {},
        {ROUTE_HEADER: published},
        {ROUTE_HEADER: published, "x-api-key": world.secret("partner")},
        {ROUTE_HEADER: published, "authorization": f"Bearer {world.secret('owner')}"},
        {ROUTE_HEADER: published, "x-api-key": world.secret("expired")},
        {ROUTE_HEADER: header_value(route(PUBLISHED_API, "retired"))},
        {
            ROUTE_HEADER: header_value(route(DRAFT_API, "draft")),
            "x-api-key": world.secret("partner"),
        },
    ]

    for headers in requests:
        assert counted(headers) == gate.http(headers)
    assert (decisions.allowed, sum(decisions.denied.values())) == (2, 5)


@pytest.mark.pure
def test_an_unmetered_call_counts_as_allowed_not_throttled() -> None:
    from extauthz.meter import UNMETERED

    decisions = Decisions()
    render = decisions.counting(lambda allowance, outcome, route, key_id: b"ok")
    assert render(None, UNMETERED, None, "k") == b"ok"  # type: ignore[arg-type]
    assert (decisions.allowed, decisions.throttled) == (1, 0)
