"""The usage endpoints: exact sums of the day rollups per day, application and API, scoped to
the caller's organization; field errors for bad ranges; and each subscription's quota read
from the very counter the rate limiter keeps in Redis (or estimated, and said to be)."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from mgmt.analytics.models import UsageDay
from mgmt.compiler.sidecar_resources import rate_limit_shards
from mgmt.developers import access
from mgmt.gateway.models import Api, Application, Role, Subscription
from mgmt.gateway.selectors import current_rows
from ratelimit_svc.counters import plan_counters
from ratelimit_svc.quota_periods import period_at
from ratelimit_svc.redis_store import RedisCounterStore
from ratelimit_svc.subscription_rules import SubscriptionRules
from tests.devapi.world import Tenant, World, member, problem, token_client
from tests.mgmt import factories
from tests.redis_server import database_url, flushed

pytestmark = [pytest.mark.db]

COUNTERS_DB = 14  # this suite's own Redis database


def _today() -> date:
    return timezone.now().date()


def _days_ago(n: int) -> date:
    return _today() - timedelta(days=n)


def _row(app: Application, api_id: int, day: date, requests: int, **more: Any) -> None:
    more.setdefault("status_class", "2xx")
    UsageDay.objects.create(
        bucket=datetime.combine(day, time.min, tzinfo=UTC),
        api_id=api_id,
        version_id=more.pop("version_id", 1),
        route_id=more.pop("route_id", 1),
        application_id=app.pk,
        requests=requests,
        **more,
    )


def _day(
    day: date, app: Application, api: Api | None, calls: int, *, errors: int = 0, throttled: int = 0
) -> dict[str, Any]:
    return {
        "date": day.isoformat(),
        "application": app.public_id,
        "api": None if api is None else {"slug": api.slug, "name": api.name},
        "calls": calls,
        "errors": errors,
        "throttled": throttled,
    }


def _usage(t: Tenant, **query: str) -> Any:
    return t.client.get(f"{t.app}/usage", query)


@pytest.fixture
def gadgets(world: World) -> Api:
    """A second API of another product, which alice's application also calls."""
    return factories.api(name="Gadgets", slug="gadgets")


def test_an_application_gets_its_calls_errors_and_throttles_per_day_and_api_exactly(
    world: World, gadgets: Api
):
    alice, bob, widgets = world.alice, world.bob, world.version.api
    app = alice.application
    d1, d2, d3 = _days_ago(1), _days_ago(2), _days_ago(3)
    # Versions, routes and status classes of one day and API are summed.
    _row(app, widgets.pk, d2, 100)
    _row(app, widgets.pk, d2, 20, version_id=2, route_id=9)
    _row(app, widgets.pk, d2, 7, status_class="5xx", errors=7)
    _row(app, widgets.pk, d2, 5, status_class="4xx", throttled=5)
    _row(app, gadgets.pk, d2, 3)
    _row(app, widgets.pk, d1, 10)
    _row(app, 0, d1, 2, status_class="4xx")  # matched no API
    _row(app, widgets.pk, _days_ago(4), 50)  # before the range
    _row(bob.application, widgets.pk, d2, 999)  # another tenant's

    response = _usage(alice, **{"from": d3.isoformat(), "to": d1.isoformat()})

    assert response.status_code == 200, response.content
    assert response.json() == {
        "application": app.public_id,
        "from": d3.isoformat(),
        "to": d1.isoformat(),
        "totals": {"calls": 147, "errors": 7, "throttled": 5},
        "days": [
            _day(d2, app, widgets, 132, errors=7, throttled=5),
            _day(d2, app, gadgets, 3),
            _day(d1, app, None, 2),
            _day(d1, app, widgets, 10),
        ],
        "quotas": [],  # the free plan has no quota
    }


def test_a_deleted_api_keeps_its_rows_without_a_name(world: World):
    app = world.alice.application
    _row(app, 987_654, _days_ago(1), 4)  # an id no API has any more
    days = _usage(world.alice).json()["days"]
    assert days == [{**_day(_days_ago(1), app, None, 4), "api": {"slug": "", "name": ""}}]


def test_the_range_defaults_to_the_30_days_up_to_today(world: World):
    app = world.alice.application
    for n in (0, 29, 30):
        _row(app, world.version.api.pk, _days_ago(n), 100 + n)
    body = _usage(world.alice).json()
    assert (body["from"], body["to"]) == (_days_ago(29).isoformat(), _today().isoformat())
    assert [d["calls"] for d in body["days"]] == [129, 100]


def test_the_organization_usage_is_paged_and_holds_every_application_of_it_only(world: World):
    alice, bob, widgets = world.alice, world.bob, world.version.api
    beta = access.create_application(organization=alice.organization, name="alice beta")
    d1, d2 = _days_ago(1), _days_ago(2)
    _row(alice.application, widgets.pk, d2, 11)
    _row(beta, widgets.pk, d2, 22, status_class="5xx", errors=22)
    _row(alice.application, widgets.pk, d1, 33, status_class="4xx", throttled=30)
    _row(bob.application, widgets.pk, d2, 44)
    url = f"/api/v1/orgs/{alice.org}/usage"
    query = {"from": d2.isoformat(), "to": d1.isoformat()}

    first = alice.client.get(url, {**query, "limit": 2}).json()
    rest = alice.client.get(url, {**query, "limit": 2, "offset": 2}).json()

    assert first["count"] == 3 and first["previous"] is None and "offset=2" in first["next"]
    assert first["results"] + rest["results"] == [
        _day(d2, alice.application, widgets, 11),
        _day(d2, beta, widgets, 22, errors=22),
        _day(d1, alice.application, widgets, 33, throttled=30),
    ]
    assert rest["next"] is None
    bobs = bob.client.get(f"/api/v1/orgs/{bob.org}/usage", query).json()["results"]
    assert bobs == [_day(d2, bob.application, widgets, 44)]


def _both_endpoints(t: Tenant) -> list[str]:
    return [f"/api/v1/orgs/{t.org}/usage", f"{t.app}/usage"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2025-02-30"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2025-01-01T00:00:00Z"}, "from"),
        ({"from": "2025-03-02", "to": "2025-03-01"}, "from"),
        ({"from": "2025-01-01", "to": "2025-04-03"}, "to"),  # 93 days
        ({"to": "9999-12-31"}, "to"),
    ],
)
def test_a_bad_range_is_a_400_problem_naming_the_field(
    world: World, query: dict[str, str], field: str
):
    for url in _both_endpoints(world.alice):
        response = world.alice.client.get(url, query)
        assert response.status_code == 400, (url, response.content)
        body = problem(response)
        assert body["type"].endswith("/invalid-input")
        assert field in body["errors"], body


def test_the_longest_range_the_earliest_dates_and_empty_ones_are_accepted(world: World):
    longest = {"from": "2025-01-01", "to": "2025-04-02"}  # 92 days, both ends included
    earliest = [{"to": "0001-01-03"}, {"from": "0001-01-01", "to": "0001-01-01"}]
    for url in _both_endpoints(world.alice):
        for query in (longest, *earliest, {"from": "", "to": ""}):
            response = world.alice.client.get(url, query)
            assert response.status_code == 200, (url, query, response.content)
    assert _usage(world.alice, to="0001-01-03").json()["from"] == "0001-01-01"
    empty = _usage(world.alice, **{"from": "", "to": ""}).json()  # as a form sends them
    assert (empty["from"], empty["to"]) == (_days_ago(29).isoformat(), _today().isoformat())


def test_another_organizations_application_is_a_404_exactly_like_a_missing_one(world: World):
    alice, bob = world.alice, world.bob
    _row(bob.application, world.version.api.pk, _days_ago(1), 5)
    org = f"/api/v1/orgs/{alice.org}/applications"
    theirs = alice.client.get(f"{org}/{bob.application.public_id}/usage")
    missing = alice.client.get(f"{org}/app_0000000000000000/usage")
    under_theirs = alice.client.get(f"{bob.app}/usage")
    assert theirs.status_code == missing.status_code == under_theirs.status_code == 404
    ignore_instance = {"instance": None}
    assert {**problem(theirs), **ignore_instance} == {**problem(missing), **ignore_instance}
    assert alice.client.get(f"/api/v1/orgs/{bob.org}/usage").status_code == 404


@pytest.mark.parametrize("role", [Role.BILLING, Role.DEVELOPER])
def test_every_role_reads_usage(world: World, role: str):
    user, _ = member(world.alice.organization, f"alice-{role}@example.com", role)
    client = token_client(user)
    for url in _both_endpoints(world.alice):
        assert client.get(url).status_code == 200, url


# --- quotas ---------------------------------------------------------------------------------


@pytest.fixture
def counters(machine_redis: str, settings: Any) -> Iterator[str]:
    """This suite's Redis database as the counters' Redis, empty before and after."""
    url = database_url(machine_redis, COUNTERS_DB)
    settings.TOLLGATE_COUNTERS_REDIS_URL = url
    with flushed(url):
        yield url


def _with_quota(subscription: Subscription, requests: int, started: datetime) -> Subscription:
    Subscription.objects.filter(pk=subscription.pk).update(
        quota_requests=requests, started_at=started
    )
    subscription.refresh_from_db()
    return subscription


def _count_at_the_gateway(url: str, subscription: Subscription, hits: int, now_ms: int) -> None:
    """One admitted check exactly as a sidecar makes it: the compiled limits streamed to
    the rate limiter, its prepared rule, check.lua on Redis."""
    rules = SubscriptionRules()
    rules.replace_shards([shard.SerializeToString() for shard in rate_limit_shards(current_rows())])
    rule = rules.rule(str(subscription.pk))
    assert rule is not None and rule.quota is not None
    _, keys, args = plan_counters([(rule, hits)], now_ms)
    store = RedisCounterStore(url, timeout=1.0)
    try:
        assert store.check(keys, args).admitted
    finally:
        store.close()


def _started_40_days_ago() -> datetime:
    return (timezone.now() - timedelta(days=40)).replace(
        hour=10, minute=17, second=5, microsecond=0
    )


@pytest.mark.redis
def test_quota_use_is_the_rate_limiters_own_counter_in_the_current_period(
    world: World, counters: str
):
    alice = world.alice
    started = _started_40_days_ago()
    subscription = _with_quota(alice.subscription, 1000, started)
    now_ms = int(timezone.now().timestamp() * 1000)
    period = period_at(int(started.timestamp()), now_ms, 1)
    _count_at_the_gateway(counters, subscription, 100, period.start_ms - 60_000)  # last period
    _count_at_the_gateway(counters, subscription, 7, now_ms)
    _count_at_the_gateway(counters, subscription, 5, now_ms)
    # Bob's counter is his own.
    _count_at_the_gateway(counters, _with_quota(world.bob.subscription, 50, started), 9, now_ms)

    quotas = _usage(alice).json()["quotas"]

    assert quotas == [
        {
            "subscription": subscription.pk,
            "product": {"slug": world.free.product.slug, "name": world.free.product.name},
            "plan": {"slug": world.free.slug, "name": world.free.name},
            "limit": 1000,
            "used": 12,
            "remaining": 988,
            "period_start": period.start.isoformat().replace("+00:00", "Z"),
            "period_end": period.end.isoformat().replace("+00:00", "Z"),
            "exact": True,
            "shadow": False,
        }
    ]
    assert period.start.time() == time(10, 17, 5)  # anchored on the subscription's start


@pytest.mark.redis
def test_a_used_up_quota_has_nothing_remaining(world: World, counters: str):
    subscription = _with_quota(world.alice.subscription, 10, _started_40_days_ago())
    _count_at_the_gateway(counters, subscription, 10, int(timezone.now().timestamp() * 1000))
    (quota,) = _usage(world.alice).json()["quotas"]
    assert (quota["used"], quota["remaining"], quota["exact"]) == (10, 0, True)


@pytest.mark.parametrize("url", ["", "redis://127.0.0.1:1/0"], ids=["unset", "unreachable"])
def test_without_the_counters_the_quota_is_estimated_from_the_days_and_says_so(
    world: World, gadgets: Api, settings: Any, url: str
):
    settings.TOLLGATE_COUNTERS_REDIS_URL = url
    alice, widgets = world.alice, world.version.api
    started = _started_40_days_ago()
    subscription = _with_quota(alice.subscription, 1000, started)
    period = period_at(int(started.timestamp()), int(timezone.now().timestamp() * 1000), 1)
    first_day = period.start.date()
    costly = factories.route(api_version=world.version, cost=3)
    app = alice.application
    _row(app, widgets.pk, first_day, 10, throttled=2, route_id=costly.pk, status_class="4xx")
    _row(app, widgets.pk, first_day, 5, route_id=987_654_321)  # a route that is gone: cost 1
    _row(app, widgets.pk, _today(), 4, route_id=costly.pk)
    _row(app, widgets.pk, first_day - timedelta(days=1), 1000)  # the period before
    _row(app, gadgets.pk, _today(), 1000)  # another product's API
    _row(world.bob.application, widgets.pk, _today(), 1000)

    (quota,) = _usage(alice).json()["quotas"]

    assert quota["subscription"] == subscription.pk
    assert (quota["used"], quota["remaining"], quota["exact"]) == (8 * 3 + 5 + 4 * 3, 959, False)


def test_cancelled_subscriptions_have_no_quota_shown(world: World, settings: Any):
    settings.TOLLGATE_COUNTERS_REDIS_URL = ""
    _with_quota(world.alice.subscription, 1000, _started_40_days_ago())
    assert len(_usage(world.alice).json()["quotas"]) == 1
    access.cancel_subscription(subscription=world.alice.subscription)
    assert _usage(world.alice).json()["quotas"] == []
