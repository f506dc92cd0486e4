"""Rate limits through the real Envoy: one ext_authz decision counts every window and the
quota in Redis (with leases), on both transports.

Each test subscribes an application of its own, so counters never mix between tests.
"""

import contextlib
import math
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from mgmt.embedded.stack import StackPorts, start_envoy, start_extauthz
from mgmt.embedded.xds_credentials import node_credentials
from mgmt.gateway import services
from mgmt.gateway.models import (
    Application,
    Organization,
    Plan,
    PlanRateLimit,
    Product,
    Route,
    Subscription,
)
from ratelimit_svc.leases import LEASE_TTL_MS
from ratelimit_svc.windows import slack
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.http import Reply, request
from tests.mgmt.admin_forms import subscription_form

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def metered_plan(requests: int, unit: str = "hour") -> Plan:
    plan = Plan.objects.create(
        product=Product.objects.get(slug="demo"),
        name=f"Metered {requests}/{unit}",
        slug=f"metered-{uuid.uuid4().hex[:8]}",
    )
    PlanRateLimit.objects.create(plan=plan, requests=requests, unit=unit)
    return plan


@dataclass
class Subscriber:
    subscription: Subscription
    key: str


def subscribe(plan: Plan, name: str) -> Subscriber:
    application = Application.objects.create(
        organization=Organization.objects.get(slug="demo-partner"), name=name
    )
    subscription = Subscription.objects.create(
        application=application,
        product=plan.product,
        plan=plan,
        state=Subscription.State.ACTIVE,
    )
    return Subscriber(subscription, services.create_api_key(application=application).secret)


def call(gateway: Gateway, key: str, path: str = "/demo/x") -> Reply:
    return request(gateway.ports.gateway, path, {"x-api-key": key})


def remaining(reply: Reply, policy: str = "hour") -> int:
    for item in reply.headers["ratelimit"].split(", "):
        name, *params = item.split(";")
        if name == f'"{policy}"':
            return int(dict(p.split("=") for p in params)["r"])
    raise AssertionError(f"no {policy} in {reply.headers['ratelimit']}")


def first_counted_call(gateway: Gateway, key: str, path: str = "/demo/x") -> Reply:
    """Waits until the key is served AND counted (both sidecars have the subscription)."""
    replies: list[Reply] = []

    def counted() -> bool:
        reply = call(gateway, key, path)
        replies.append(reply)
        return reply.status == 200 and "ratelimit" in reply.headers

    wait_until(counted, timeout=5, what="the new subscription is served and counted")
    return replies[-1]


def test_n_plus_5_calls_through_envoy_admit_exactly_n(gateway, scenario):
    n = 8
    subscriber = subscribe(metered_plan(n), "Sequential client")
    first = first_counted_call(gateway, subscriber.key)
    assert first.headers["ratelimit-policy"] == f'"hour";q={n};w=3600'
    replies = [first] + [call(gateway, subscriber.key) for _ in range(n + 4)]
    assert [r.status for r in replies] == [200] * n + [429] * 5
    assert [remaining(r) for r in replies[:n]] == list(range(n - 1, -1, -1))
    refused = replies[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    # 8 an hour is one every 450 s once the burst of 8 is spent (GCRA): the next fits then.
    assert 440 <= int(refused.headers["retry-after"]) <= 450
    problem = refused.json()
    assert problem["type"] == "https://tollgate.dev/problems/rate-limited"
    assert problem["limit"] == f"{n} per hour"
    assert remaining(refused) == 0


def demo_route(gateway: Gateway, demo_key: str, path: str, **fields: object) -> Route:
    """A route of the demo API placed before its catch-all `/` route, once Envoy serves it.

    Its timeout is its signature: Envoy tells the upstream the route's timeout, and the
    demo upstream echoes it back.
    """
    catch_all = Route.objects.get(api_version__api__slug="demo", path="/")
    catch_all.position = 100
    catch_all.save()
    route = Route.objects.create(
        api_version=catch_all.api_version,
        upstream=catch_all.upstream,
        path=path,
        position=1,
        timeout_ms=7_001,
        **fields,
    )
    wait_until(
        lambda: b'"7001"' in call(gateway, demo_key, f"/demo{path}").body,
        timeout=5,
        what=f"Envoy routes {path}",
    )
    return route


def test_an_expensive_route_counts_as_its_cost(gateway, scenario):
    demo_route(gateway, scenario.demo_key, "/costly", cost=4)
    subscriber = subscribe(metered_plan(10), "Costly client")
    first = first_counted_call(gateway, subscriber.key, "/demo/costly")
    assert remaining(first) == 6
    assert remaining(call(gateway, subscriber.key, "/demo/costly")) == 2
    refused = call(gateway, subscriber.key, "/demo/costly")
    assert refused.status == 429  # 4 do not fit in the 2 left...
    cheap = call(gateway, subscriber.key)
    assert (cheap.status, remaining(cheap)) == (200, 1)  # ...but 1 does


def test_a_limit_raised_in_admin_lifts_throttling_for_that_partner_only(gateway, scenario):
    plan = metered_plan(3)
    partner = subscribe(plan, "Partner asking for more")
    neighbour = subscribe(plan, "Same plan, no change")
    for subscriber in (partner, neighbour):
        first_counted_call(gateway, subscriber.key)
        assert [call(gateway, subscriber.key).status for _ in range(3)] == [200, 200, 429]

    admin = Client()
    admin.force_login(get_user_model().objects.get(username="admin"))
    subscription = partner.subscription
    response = admin.post(
        reverse("admin:gateway_subscription_change", args=[subscription.pk]),
        subscription_form(subscription, [{"requests": 100, "unit": "hour"}]),
    )
    assert response.status_code == 302

    wait_until(
        lambda: call(gateway, partner.key).status == 200,
        timeout=2,
        what="the raised limit lets the partner through",
    )
    reply = call(gateway, partner.key)
    assert reply.status == 200
    assert reply.headers["ratelimit-policy"] == '"hour";q=100;w=3600'
    assert call(gateway, neighbour.key).status == 429  # the plan's others keep the old limit


def _burst(port: int, key: str, total: int, workers: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    remaining_calls = iter(range(total))

    def worker() -> None:
        while True:
            with lock:
                if next(remaining_calls, None) is None:
                    return
            status = request(port, "/demo/x", {"x-api-key": key}).status
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def _served_by(admin_port: int) -> int:
    """Requests this Envoy's ext_authz allowed."""
    stats = request(admin_port, "/stats?filter=ext_authz.ok$").body.decode()
    return sum(int(line.rsplit(" ", 1)[1]) for line in stats.splitlines() if line.strip())


_SPIN = "import sys, time\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end: pass"


@contextlib.contextmanager
def cpu_hog(gateway: Gateway, seconds: float) -> Iterator[None]:
    """Every core busy for `seconds` (or until the block ends): a saturated machine."""
    hogs = [
        gateway.group.start(
            f"cpu-hog-{i}",
            [
                sys.executable,
                "-c",
                f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass",
            ],
        )
        for i in range(os.cpu_count() or 2)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            gateway.group.stop(hog)


@contextlib.contextmanager
def second_node(gateway: Gateway, tmp_path: Path) -> Iterator[StackPorts]:
    """A second gateway node: its own Envoy and sidecar, the same xds_server and Redis. Both
    Envoys listen on the gateway port (SO_REUSEPORT): the kernel spreads connections."""
    second = StackPorts.free(gateway=gateway.ports.gateway, xds=gateway.ports.xds)
    # Issued while xds_server runs: it picks the new credentials up from its file.
    node = node_credentials(gateway.xds_credentials, tmp_path / "xds_tokens", "gateway-2")
    sidecar = start_extauthz(
        gateway.group,
        second,
        redis_url=gateway.redis_url,
        xds=node.sidecars,
        name="extauthz-2",
        sidecars=2,
    )
    envoy = start_envoy(gateway.group, second, tmp_path / "envoy-2", xds=node.envoy)
    try:
        yield second
    finally:
        gateway.group.stop(envoy)
        gateway.group.stop(sidecar)


def test_two_envoys_and_two_sidecars_admit_exactly_the_limit_under_a_saturated_cpu(
    gateway, scenario, tmp_path
):
    with second_node(gateway, tmp_path) as second:
        wait_until(
            lambda: (
                call(gateway, scenario.demo_key).status == 200
                and _served_by(second.envoy_admin) > 0
            ),
            timeout=10,
            what="the second node serves",
        )
        limit = 40
        plan = metered_plan(limit)
        with cpu_hog(gateway, seconds=300):
            for run in range(20):
                subscriber = subscribe(plan, f"Concurrent client {run}")
                first_counted_call(gateway, subscriber.key)
                before = (_served_by(gateway.ports.envoy_admin), _served_by(second.envoy_admin))
                statuses = _burst(gateway.ports.gateway, subscriber.key, total=150, workers=24)
                after = (_served_by(gateway.ports.envoy_admin), _served_by(second.envoy_admin))
                assert statuses == {200: limit - 1, 429: 150 - (limit - 1)}, f"run {run}"
                # Both nodes took part in the count.
                assert after[0] > before[0] and after[1] > before[1], (before, after)


def test_redis_killed_fail_open_counts_locally_fail_closed_refuses_then_enforcement_resumes(
    gateway, scenario
):
    demo_route(gateway, scenario.demo_key, "/strict", rate_limit_failure="closed")
    subscriber = subscribe(metered_plan(5), "Client during an outage")
    first_counted_call(gateway, subscriber.key, "/demo/strict/x")  # 1 of 5 used

    gateway.kill_redis()
    try:
        open_replies = [call(gateway, subscriber.key) for _ in range(10)]
        closed = call(gateway, subscriber.key, "/demo/strict/x")
    finally:
        gateway.restart_redis()
    # Fail-open never means unlimited: this (only) sidecar enforces the whole limit alone,
    # without the headers (its counts are its own, not the gateway's), counting the call
    # Redis admitted through it before the outage: 4 more of the 5.
    statuses = [r.status for r in open_replies]
    assert statuses == [200] * 4 + [429] * 6
    assert "ratelimit" not in open_replies[0].headers
    refused = open_replies[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) > 0
    # Fail-closed: the configured status, as problem+json.
    assert closed.status == 503
    assert closed.headers["content-type"] == "application/problem+json"
    assert closed.json()["type"] == "https://tollgate.dev/problems/rate-limit-unavailable"

    # Enforcement resumes within 2 s, on the count Redis kept (its append-only file): the
    # local fail-open counts are not added to it.
    wait_until(
        lambda: "ratelimit" in call(gateway, subscriber.key).headers,
        timeout=2,
        what="enforcement resumes after Redis returns",
    )
    statuses = [call(gateway, subscriber.key).status for _ in range(6)]
    assert statuses.count(200) <= 4 and statuses[-1] == 429


def test_a_flooder_is_held_to_its_plan_every_second_and_a_neighbour_gets_every_call(
    gateway, scenario
):
    limit = 10
    flooder = subscribe(metered_plan(limit, unit="second"), "Flooder")
    neighbour = subscribe(metered_plan(limit, unit="second"), "Neighbour")
    first_counted_call(gateway, flooder.key)
    first_counted_call(gateway, neighbour.key)
    time.sleep(1.1)  # both windows whole again
    admitted: list[float] = []
    neighbour_statuses: list[int] = []
    lock = threading.Lock()
    start = time.monotonic()
    seconds = 5.0

    def flood() -> None:
        while time.monotonic() - start < seconds:
            reply = call(gateway, flooder.key)
            if reply.status == 200:
                with lock:
                    admitted.append(time.monotonic() - start)

    def pace() -> None:
        while time.monotonic() - start < seconds:
            neighbour_statuses.append(call(gateway, neighbour.key).status)
            time.sleep(0.2)

    with cpu_hog(gateway, seconds=seconds + 5):
        threads = [threading.Thread(target=flood) for _ in range(16)]
        threads.append(threading.Thread(target=pace))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # The stated bound: the limit, the sliding window's slack (2 for 10 a second) and the
    # units a lease may hold for its 250 ms (a quarter of a second's worth).
    bound = limit + slack(limit, 1000, 20) + math.ceil(limit * LEASE_TTL_MS / 1000)
    per_second = Counter(int(t) for t in admitted)
    assert max(per_second.values()) <= bound, per_second
    assert len(admitted) <= limit * (seconds + 1) + slack(limit, 1000, 20)
    assert neighbour_statuses and set(neighbour_statuses) == {200}, neighbour_statuses
