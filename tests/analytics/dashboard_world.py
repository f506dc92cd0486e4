"""The API owner's dashboard tests' world: APIs, applications and their rollups with a
collector gap, and the sidecars' throttle events as they stand in Redis."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis

from accesslog import histogram
from mgmt.analytics import api_rollup
from mgmt.analytics.models import Coverage, UsageDay, UsageHour, UsageMinute, UsageRow
from mgmt.analytics.timeline import MINUTE, floor
from mgmt.gateway import services
from mgmt.gateway.models import ApiKey, ApiVersion, Application, Route, Subscription
from ratelimit_svc.throttle_events import STREAM
from tests.mgmt import factories
from tests.redis_server import database_url

NODE = "gateway-1"
PASSWORD = "a long staff passphrase"
# Minutes ago the collector heard from no Envoy: a gap in the data.
GAP_MINUTES_AGO = range(36, 41)
# This suite's own Redis database on the machine's Redis (nobody else uses 13).
THROTTLE_DB = 13


@dataclass
class Caller:
    application: Application
    key: ApiKey
    subscription: Subscription


@dataclass
class World:
    now: datetime
    orders_v1: ApiVersion
    orders_v2: ApiVersion
    legacy_v1: ApiVersion
    quiet_v1: ApiVersion
    route: Route
    flooder: Caller
    polite: Caller
    callers: list[Caller] = field(default_factory=list)


def caller(plan: Any, name: str, organization: Any) -> Caller:
    application = factories.application(name=name, organization=organization)
    key = services.create_api_key(application=application).api_key
    subscription = factories.subscription(application=application, plan=plan)
    return Caller(application, key, subscription)


def usage(
    model: type[UsageRow],
    bucket: datetime,
    route: Route,
    application_id: int,
    *,
    status_class: str = "2xx",
    requests: int,
    errors: int = 0,
    throttled: int = 0,
    millis: int = 12,
) -> None:
    model._default_manager.create(
        bucket=bucket,
        api_id=route.api_version.api_id,
        version_id=route.api_version_id,
        route_id=route.pk,
        application_id=application_id,
        status_class=status_class,
        requests=requests,
        errors=errors,
        throttled=throttled,
        duration_us_sum=requests * millis * 1000,
        histogram=histogram.encode({histogram.bucket_of(millis * 1000): requests}),
    )
    # The fold keeps the API-level rows in step; rows written here are summed the same way.
    api_rollup.rebuild(
        model, api_rollup.API_LEVEL[model], start=bucket, end=bucket + timedelta(seconds=1)
    )


def covered(minutes: list[datetime], seconds: int = 60) -> None:
    Coverage.objects.bulk_create(Coverage(bucket=m, node=NODE, seconds=seconds) for m in minutes)


def build_world(now: datetime) -> World:
    """Orders (v1 busy, v2 quiet), Legacy (losing), Quiet (never called); a flooder and a
    polite caller on the Bronze plan; a collector gap 40 to 35 minutes ago."""
    acme = factories.organization(name="Acme Flooders")
    calm = factories.organization(name="Calm Corp")
    orders = factories.api(name="Orders")
    orders_v1 = factories.api_version(api=orders, version="v1", path_prefix="/v1")
    orders_v2 = factories.api_version(api=orders, version="v2", path_prefix="/v2")
    legacy_v1 = factories.api_version(api=factories.api(name="Legacy"), version="v1")
    quiet_v1 = factories.api_version(api=factories.api(name="Quiet"), version="v1")
    route = factories.route(api_version=orders_v1, path="/orders", methods="GET")
    legacy_route = factories.route(api_version=legacy_v1, path="/old")
    v2_route = factories.route(api_version=orders_v2, path="/orders/v2")
    bronze = factories.plan(product=orders.product, name="Bronze", quota_requests=50_000)
    factories.plan_rate_limit(plan=bronze, requests=10, unit="second")
    world = World(
        now,
        orders_v1,
        orders_v2,
        legacy_v1,
        quiet_v1,
        route,
        caller(bronze, "Flooder", acme),
        caller(bronze, "Polite", calm),
    )

    minute = floor(now, MINUTE)
    # Coverage for the last three hours, but for a gap from 40 to 35 minutes ago.
    covered(
        [minute - i * MINUTE for i in range(3, 180) if i not in GAP_MINUTES_AGO],
    )
    flooder, polite = world.flooder.application.pk, world.polite.application.pk
    for ago in (45, 44, 30, 29, 20):
        usage(UsageMinute, minute - ago * MINUTE, route, flooder, requests=100)
        usage(UsageMinute, minute - ago * MINUTE, route, polite, requests=10)
    usage(
        UsageMinute,
        minute - 20 * MINUTE,
        route,
        flooder,
        status_class="4xx",
        requests=300,
        throttled=300,
    )
    usage(
        UsageMinute, minute - 20 * MINUTE, route, polite, status_class="5xx", requests=7, errors=7
    )
    usage(UsageMinute, minute - 20 * MINUTE, v2_route, polite, requests=3)

    hour = floor(now, timedelta(hours=1))
    usage(UsageHour, hour - timedelta(days=2), route, flooder, requests=1000)
    usage(UsageHour, hour - timedelta(days=9), route, flooder, requests=100)
    usage(UsageHour, hour - timedelta(days=2), legacy_route, polite, requests=50)
    usage(UsageHour, hour - timedelta(days=9), legacy_route, polite, requests=500)
    day = floor(now, timedelta(days=1))
    usage(UsageDay, day - timedelta(days=2), route, flooder, requests=5000)
    usage(UsageDay, day - timedelta(days=2), legacy_route, polite, requests=550)
    usage(UsageDay, day - timedelta(days=2), v2_route, polite, requests=10)
    return world


def add_callers(world: World, count: int) -> list[Caller]:
    """More applications of a new organization, each with traffic on two versions."""
    organization = factories.organization()
    plan = world.flooder.subscription.plan
    minute = floor(world.now, MINUTE)
    v2_route = world.orders_v2.routes.get()
    callers = [caller(plan, f"Extra {n}", organization) for n in range(count)]
    for n, extra in enumerate(callers):
        usage(UsageMinute, minute - 10 * MINUTE, world.route, extra.application.pk, requests=n + 1)
        usage(UsageMinute, minute - 10 * MINUTE, v2_route, extra.application.pk, requests=1)
    return callers


@contextmanager
def throttle_stream_of(machine_redis: str, settings: Any) -> Iterator["redis.Redis"]:
    """THROTTLE_DB of the machine's Redis as where the dashboard reads throttle events
    (`settings` is pytest-django's), with no events before or after."""
    url = database_url(machine_redis, THROTTLE_DB)
    settings.TOLLGATE_ANALYTICS_REDIS_URL = url
    client: redis.Redis = redis.Redis.from_url(url)
    client.delete(STREAM)
    try:
        yield client
    finally:
        client.delete(STREAM)


def throttle(
    client: "redis.Redis", who: Caller, count: int, limit: str = "plan:bronze", **kw: Any
) -> None:
    """One entry as the sidecars' ThrottleRecorder writes it."""
    now_ms = int(time.time() * 1000)
    client.xadd(
        STREAM,
        {
            "application_id": str(who.application.pk),
            "subscription_id": str(who.subscription.pk),
            "identity": "",
            "limit": limit,
            "kind": "rate",
            "count": str(count),
            "first_ms": str(now_ms - 900),
            "last_ms": str(now_ms),
        },
        **kw,
    )
