"""Envoy's access log to the rollups, through the real gateway: two applications across two
APIs, with a known mix of 2xx, 4xx, 429 and an upstream's 5xx, counted exactly per
application, API, route and status class, with latency percentiles within the histogram's
stated bound of what the client measured.

Everything here is the test's own (product, APIs, applications), so the gateway's other
traffic never mixes in; the unattributed 404s are counted as a difference.
"""

import statistics
import time
import uuid
from collections import Counter

import pytest
import redis

from accesslog import histogram
from accesslog.usage_keys import (
    ERRORS,
    THROTTLED,
    Dims,
)
from accesslog.usage_keys import REQUESTS as N
from mgmt.analytics import fold
from mgmt.analytics.fold_redis import UsageRedis
from mgmt.analytics.models import UsageMinute
from mgmt.gateway.models import ApiKey
from tests.e2e.analytics_world import World, build_world, dims_of, settled_usage, usage
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.http import request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The upstream's delay on the slow calls: Envoy's time can be no shorter. (The client's own
# share on top of Envoy's time, on a loaded 2-CPU machine, measured up to 20 ms: so the
# client's figures bound Envoy's from above only.)
DELAY_MS = 40


@pytest.mark.usefixtures("scenario")  # the demo organizations
def test_calls_of_two_applications_across_two_apis_are_counted_exactly(gateway: Gateway) -> None:
    world = build_world(gateway)
    port = gateway.ports.gateway
    x_path = f"/{world.x.slug}/v1/slow"
    y_path = f"/{world.y.slug}/v1/items"
    wait_until(
        lambda: request(port, y_path, {"x-api-key": world.a_key}).status == 200,
        timeout=10,
        what="the test's APIs serve",
    )
    # Nor in what the upstream receives: it gets the identity headers, not the metadata.
    echoed = request(port, y_path, {"x-api-key": world.a_key}).json()["headers"]
    assert "x-application-id" in echoed
    assert not [name for name in echoed if name.startswith("x-tollgate-")]
    client = redis.Redis.from_url(gateway.redis_url)
    # The wait above made calls of its own: count from what is there now.
    before = settled_usage(client)

    sent: Counter[Dims] = Counter()
    client_ms: list[float] = []

    def call(path: str, key: str | None, expected: int, dims: Dims) -> None:
        headers = {"x-api-key": key} if key else {}
        start = time.perf_counter()
        reply = request(port, path, headers)
        elapsed = (time.perf_counter() - start) * 1000
        assert reply.status == expected, (path, reply.status, reply.body[:200])
        # Who called is for the log only: never in the client's reply.
        assert not [name for name in reply.headers if name.startswith("x-tollgate-")]
        sent[dims] += 1
        if "delay_ms" in path:
            client_ms.append(elapsed)

    a, b = world.a, world.b
    slow_path = f"{x_path}?delay_ms={DELAY_MS}"
    for _ in range(10):
        call(slow_path, world.a_key, 200, dims_of(world.x, world.x_route, a, "2xx"))
    for _ in range(4):
        call(f"{x_path}?status=503", world.a_key, 503, dims_of(world.x, world.x_route, a, "5xx"))
    for _ in range(3):
        call(y_path, world.a_key, 200, dims_of(world.y, world.y_route, a, "2xx"))
    for _ in range(5):
        call(y_path, world.b_key, 200, dims_of(world.y, world.y_route, b, "2xx"))
    for _ in range(3):
        call(y_path, world.b_key, 429, dims_of(world.y, world.y_route, b, "4xx"))
    for _ in range(2):
        call(
            y_path, world.stranger_key, 403, dims_of(world.y, world.y_route, world.stranger, "4xx")
        )
    for _ in range(2):
        call(x_path, None, 401, dims_of(world.x, world.x_route, None, "4xx"))
    unattributed = Dims(0, 0, 0, 0, "4xx")
    for _ in range(2):
        call(f"/nowhere-{uuid.uuid4().hex}", world.a_key, 404, unattributed)

    def counted() -> dict[Dims, int]:
        now = usage(client)
        return {dims: now.get((dims, N), 0) - before.get((dims, N), 0) for dims in sent}

    wait_until(lambda: counted() == dict(sent), timeout=15, what="every call counted")
    time.sleep(3)  # and counted once: nothing more arrives later
    assert counted() == dict(sent)
    totals = usage(client)

    def delta(dims: Dims, metric: str) -> int:
        return totals.get((dims, metric), 0) - before.get((dims, metric), 0)

    # Throttled: the gateway's own 429s, not any 4xx; errors: the upstream's 5xx.
    assert delta(dims_of(world.y, world.y_route, b, "4xx"), THROTTLED) == 3
    assert delta(dims_of(world.y, world.y_route, world.stranger, "4xx"), THROTTLED) == 0
    assert delta(dims_of(world.x, world.x_route, a, "5xx"), ERRORS) == 4

    # Folded into the database (as the minute job does, once the minutes are closed): the
    # same counts per application, API, route and status class; a second run adds nothing.
    apis = (world.x.pk, world.y.pk)
    store = UsageRedis(redis.Redis.from_url(gateway.redis_url))
    fold.run(store, now=time.time() + 3600, settle_seconds=0)
    folded = _folded(world)
    # Everything the collector counted for the test's APIs (the wait's first calls too).
    ours = {d: n for (d, metric), n in totals.items() if metric == N and d.api in apis}
    assert ours[dims_of(world.y, world.y_route, b, "4xx")] == 3
    assert folded == ours
    fold.run(store, now=time.time() + 3600, settle_seconds=0)
    assert _folded(world) == ours
    # The keys that called have their last use written; the stranger's was refused, but used.
    assert ApiKey.objects.get(application=world.a).last_used_at is not None
    assert ApiKey.objects.get(application=world.b).last_used_at is not None
    slow = dims_of(world.x, world.x_route, a, "2xx")
    row = UsageMinute.objects.filter(
        api_id=slow.api, route_id=slow.route, application_id=slow.application, status_class="2xx"
    )
    counts: dict[int, int] = {}
    for text in row.values_list("histogram", flat=True):  # two rows if a minute turned
        histogram.merge(counts, histogram.decode(text))

    # Latency: the rollup's percentiles against the client's, within the stated bound.
    for q, client_value in ((0.5, statistics.median(client_ms)), (0.99, max(client_ms))):
        measured = histogram.quantile(counts, q)
        assert measured is not None
        measured_ms = measured / 1000
        error = histogram.RELATIVE_ERROR
        # Within the stated bound of what the client saw (Envoy's time is inside it), and
        # of the upstream's delay (inside Envoy's time).
        assert measured_ms <= client_value * (1 + error), (q, measured_ms, client_value)
        assert measured_ms >= DELAY_MS * (1 - error), (q, measured_ms, client_value)


def _folded(world: World) -> dict[Dims, int]:
    """Requests per dims in the minute rows of the test's APIs (and their applications)."""
    totals: Counter[Dims] = Counter()
    rows = UsageMinute.objects.filter(api_id__in=(world.x.pk, world.y.pk)).values_list(
        "api_id", "version_id", "route_id", "application_id", "status_class", "requests"
    )
    for api, version, route, application, status_class, requests in rows:
        totals[Dims(api, version, route, application, status_class)] += requests
    return dict(totals)
