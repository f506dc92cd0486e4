"""The analytics tests' own world on the real gateway: a product with two APIs (x on the blue
upstream, y on green), applications A (free plan), B (5 calls an hour) and a stranger (no
subscription); and the collector's counters as Redis holds them."""

import time
import uuid
from collections import Counter
from dataclasses import dataclass

import redis

from accesslog.usage_keys import MINUTE_KEY_PREFIX, Dims, parse_field
from mgmt.gateway import services
from mgmt.gateway.models import (
    Api,
    ApiVersion,
    Application,
    Endpoint,
    Organization,
    Plan,
    PlanRateLimit,
    Product,
    Route,
    Subscription,
    Upstream,
)
from tests.e2e.conftest import Gateway

Totals = dict[tuple[Dims, str], int]


@dataclass
class World:
    x: Api  # /<x>/v1/slow on blue
    x_route: Route
    y: Api  # /<y>/v1/items on green
    y_route: Route
    a: Application  # free plan
    a_key: str
    b: Application  # 5 calls an hour
    b_key: str
    stranger: Application  # no subscription
    stranger_key: str


def build_world(gateway: Gateway) -> World:
    tag = uuid.uuid4().hex[:8]
    acme = Organization.objects.get(slug="acme")
    partner = Organization.objects.get(slug="demo-partner")
    product = Product.objects.create(organization=acme, name=f"Analytics {tag}", slug=f"an-{tag}")
    free = Plan.objects.create(product=product, name="Free", slug=f"free-{tag}")
    metered = Plan.objects.create(product=product, name="Five an hour", slug=f"five-{tag}")
    PlanRateLimit.objects.create(plan=metered, requests=5, unit="hour")
    routes = []
    apis = []
    for name, port, path in (("x", 0, "/slow"), ("y", 1, "/items")):
        upstream = Upstream.objects.create(organization=acme, name=f"{name}-{tag}")
        Endpoint.objects.create(
            upstream=upstream, host="127.0.0.1", port=gateway.upstream_ports[port]
        )
        api = Api.objects.create(
            organization=acme,
            product=product,
            name=f"API {name} {tag}",
            slug=f"{name}-{tag}",
            base_path=f"/{name}-{tag}",
        )
        version = ApiVersion.objects.create(
            api=api, version="v1", path_prefix="/v1", lifecycle="published"
        )
        routes.append(Route.objects.create(api_version=version, path=path, upstream=upstream))
        apis.append(api)
    keys = []
    applications = []
    for name, plan in (("A", free), ("B", metered), ("stranger", None)):
        application = Application.objects.create(organization=partner, name=f"{name} {tag}")
        if plan is not None:
            Subscription.objects.create(
                application=application,
                product=product,
                plan=plan,
                state=Subscription.State.ACTIVE,
            )
        applications.append(application)
        keys.append(services.create_api_key(application=application).secret)
    return World(
        apis[0],
        routes[0],
        apis[1],
        routes[1],
        applications[0],
        keys[0],
        applications[1],
        keys[1],
        applications[2],
        keys[2],
    )


def usage(client: redis.Redis) -> Totals:
    """Every counter the collector has written, summed over the minutes."""
    totals: Counter[tuple[Dims, str]] = Counter()
    for key in client.scan_iter(match=f"{MINUTE_KEY_PREFIX}*"):
        for field, value in client.hgetall(key).items():
            parsed = parse_field(field.decode())
            if parsed is not None:
                totals[parsed] += int(value)
    return dict(totals)


def dims_of(api: Api, route: Route, application: Application | None, status_class: str) -> Dims:
    return Dims(
        api.pk, route.api_version_id, route.pk, application.pk if application else 0, status_class
    )


def settled_usage(client: redis.Redis, timeout: float = 15.0) -> Totals:
    """The collector's totals once they stop moving."""
    deadline = time.monotonic() + timeout
    while True:
        totals = _settled(client)
        if totals is not None:
            return totals
        assert time.monotonic() < deadline, "the collector's counts never settled"


def _settled(client: redis.Redis) -> Totals | None:
    """The totals if two reads 3.5 s apart agree (Envoy streams each second, the collector
    writes every 2 s)."""
    first = usage(client)
    time.sleep(3.5)
    second = usage(client)
    return second if first == second else None
