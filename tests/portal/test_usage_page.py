"""The usage pages through Django's test client: an application's days, totals and quotas
exactly as the rollups and the counters hold them, the dashboard's summary, keys' last use,
field errors for a bad range, and nothing of another tenant's."""

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mgmt.analytics import partner_usage
from mgmt.analytics.models import Coverage, UsageDay
from mgmt.developers import access
from mgmt.gateway.models import ApiKey, Application, Subscription
from ratelimit_svc.quota_periods import period_at
from tests.portal.conftest import Catalog, Tenant, signed_in
from tests.redis_server import database_url, flushed

pytestmark = [pytest.mark.db, pytest.mark.django_db]

COUNTERS_DB = 14  # this suite's own Redis database


@pytest.fixture(autouse=True)
def _no_counters(settings: Any) -> None:
    # Quotas are estimated from the rollups unless a test gives the counters' Redis.
    settings.TOLLGATE_COUNTERS_REDIS_URL = ""


class _Tables(HTMLParser):
    """Each <table>'s rows as lists of cell texts, and every element's text by id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.by_id: dict[str, str] = {}
        self._table = ""
        self._cell: list[str] | None = None
        self._id: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("class") or found.get("aria-label") or "table"
            self.tables.setdefault(self._table, [])
        elif tag == "tr":
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        if found.get("id") and tag in ("dd", "td"):
            self._id = (str(found["id"]), [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag in ("dd", "td") and self._id is not None:
            self.by_id[self._id[0]] = "".join(self._id[1]).strip()
            self._id = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._id is not None:
            self._id[1].append(data)


def _parsed(response: Any) -> _Tables:
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser


def _days_ago(n: int) -> date:
    return timezone.now().date() - timedelta(days=n)


def _row(app: Application, api_id: int, day: date, requests: int, **more: Any) -> None:
    more.setdefault("status_class", "2xx")
    UsageDay.objects.create(
        bucket=datetime.combine(day, time.min, tzinfo=UTC),
        api_id=api_id,
        version_id=1,
        route_id=more.pop("route_id", 0),
        application_id=app.pk,
        requests=requests,
        **more,
    )


def _usage_url(tenant: Tenant) -> str:
    return reverse(
        "portal:usage",
        kwargs={"org": tenant.organization.slug, "public_id": tenant.application.public_id},
    )


def _started_40_days_ago(subscription: Subscription) -> Subscription:
    started = (timezone.now() - timedelta(days=40)).replace(hour=8, minute=0, second=0)
    Subscription.objects.filter(pk=subscription.pk).update(started_at=started)
    subscription.refresh_from_db()
    return subscription


def test_the_usage_page_shows_each_day_and_api_with_exact_totals(
    alice: Tenant, bob: Tenant, catalog: Catalog
) -> None:
    api = catalog.version.api
    app = alice.application
    d1, d2 = _days_ago(1), _days_ago(2)
    _row(app, api.pk, d2, 1200)
    _row(app, api.pk, d2, 34, status_class="5xx", errors=34)
    _row(app, api.pk, d2, 6, status_class="4xx", throttled=6)
    _row(app, api.pk, d1, 10)
    _row(app, 0, d1, 3, status_class="4xx")
    _row(bob.application, api.pk, d1, 5000)  # bob's

    response = signed_in(alice.owner).get(
        _usage_url(alice), {"from": d2.isoformat(), "to": d1.isoformat()}
    )

    assert response.status_code == 200
    page = _parsed(response)
    assert page.by_id == {"total-calls": "1,253", "total-errors": "34", "total-throttled": "6"}
    assert page.tables["usage"] == [
        ["Day (UTC)", "API", "Calls", "Errors", "Throttled"],
        [d2.isoformat(), "Demo API", "1,240", "34", "6"],
        [d1.isoformat(), "no API matched", "3", "0", "0"],
        [d1.isoformat(), "Demo API", "10", "0", "0"],
    ]
    assert "5,000" not in response.content.decode()


def test_the_quota_is_estimated_from_the_days_when_the_counters_are_not_configured(
    alice: Tenant, catalog: Catalog
) -> None:
    subscription = _started_40_days_ago(alice.subscription)
    anchor = int(subscription.started_at.timestamp())
    period = period_at(anchor, int(timezone.now().timestamp() * 1000), 1)
    _row(alice.application, catalog.version.api.pk, period.start.date(), 2500, throttled=500)
    _row(alice.application, catalog.version.api.pk, period.start.date() - timedelta(days=1), 99)

    page = _parsed(signed_in(alice.owner).get(_usage_url(alice)))

    (_header, row) = page.tables["quotas"]
    assert row[:5] == ["Demo", "Free", "about 2,000", "about 8,000", "10,000"]
    start = period.start.strftime("%Y-%m-%d %H:%M")
    assert row[5] == f"{start} UTC to {period.end.strftime('%Y-%m-%d %H:%M')} UTC"


@pytest.fixture
def counters(machine_redis: str, settings: Any) -> Iterator[redis.Redis]:
    """This suite's Redis database as the counters' Redis, empty before and after."""
    url = database_url(machine_redis, COUNTERS_DB)
    settings.TOLLGATE_COUNTERS_REDIS_URL = url
    with flushed(url) as client:
        yield client


@pytest.mark.redis
def test_the_quota_read_from_the_counter_is_shown_as_exact(
    alice: Tenant, catalog: Catalog, counters: redis.Redis
) -> None:
    subscription = _started_40_days_ago(alice.subscription)
    quota = partner_usage.prepared_quota(subscription)
    assert quota is not None  # its key is the gateway's (tests/devapi/test_usage_api.py)
    period = quota.period_at(int(timezone.now().timestamp() * 1000))
    counters.hset(quota.key, str(period.index), 7321)
    counters.hset(quota.key, str(period.index - 1), 10_000)  # the period before

    page = _parsed(signed_in(alice.owner).get(_usage_url(alice)))

    assert page.tables["quotas"][1][:5] == ["Demo", "Free", "7,321", "2,679", "10,000"]


def test_the_chart_draws_each_day_and_marks_the_days_the_collector_missed(
    alice: Tenant, catalog: Catalog
) -> None:
    d1, d2, d3 = _days_ago(1), _days_ago(2), _days_ago(3)
    _row(alice.application, catalog.version.api.pk, d2, 40)
    # One node reported the first minute of d2 and then nothing: the rest of d2 and the
    # start of d1 are gaps (mgmt.analytics.timeline); d3 is before anything is known.
    Coverage.objects.create(
        bucket=datetime.combine(d2, time.min, tzinfo=UTC), node="edge-1", seconds=60
    )

    response = signed_in(alice.owner).get(
        _usage_url(alice), {"from": d3.isoformat(), "to": d1.isoformat()}
    )

    chart = response.content.decode().split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'id="usage-chart"' in chart and "Calls of Alice Checkout per day" in chart
    assert [m for m in ("partial", "gap") if f'data-coverage="{m}"' in chart] == ["partial", "gap"]
    # d3 and d2 are one line of two points; d1, a gap, has no value (it is not a zero).
    (calls,) = re.findall(r'data-series="Calls"[^>]* d="([^"]*)"', chart)
    assert len(calls.split(" L")) == 2
    assert 'data-coverage="none"' not in chart


def test_a_bad_range_is_a_400_page_naming_the_field(alice: Tenant) -> None:
    client = signed_in(alice.owner)
    cases = [
        ({"from": "2025-02-30"}, "Enter a valid date."),
        ({"from": "2025-03-02", "to": "2025-03-01"}, "must not be after to (2025-03-01)"),
        ({"from": "2025-01-01", "to": "2025-04-03"}, "a range is at most 92 days"),
    ]
    for query, words in cases:
        response = client.get(_usage_url(alice), query)
        assert response.status_code == 400, query
        assert words in response.content.decode(), query
        assert "calls-heading" not in response.content.decode()


def test_another_tenants_usage_page_is_404_like_a_missing_application(
    alice: Tenant, bob: Tenant
) -> None:
    client = signed_in(alice.owner)
    bobs = _usage_url(bob)
    under_alices_org = bobs.replace(bob.organization.slug, alice.organization.slug)
    missing = _usage_url(alice).replace(alice.application.public_id, "app_0000000000000000")
    for url in (bobs, under_alices_org, missing):
        response = client.get(url)
        assert response.status_code == 404, url
        assert bob.application.name not in response.content.decode()


def test_every_role_sees_the_page_signed_out_goes_to_log_in_and_post_is_refused(
    alice: Tenant, carol: User, dan: User
) -> None:
    for user in (alice.owner, carol, dan):
        assert signed_in(user).get(_usage_url(alice)).status_code == 200
    signed_out = Client().get(_usage_url(alice))
    assert signed_out.status_code == 302 and "/portal/login" in signed_out["Location"]
    assert signed_in(alice.owner).post(_usage_url(alice)).status_code == 405


def test_the_dashboard_sums_the_last_seven_days_per_application_and_links_its_page(
    alice: Tenant, bob: Tenant, catalog: Catalog
) -> None:
    api = catalog.version.api.pk
    _row(alice.application, api, _days_ago(0), 40)
    _row(alice.application, api, _days_ago(6), 2, status_class="5xx", errors=2)
    _row(alice.application, api, _days_ago(7), 1000)  # eight days ago: not summed
    _row(bob.application, api, _days_ago(0), 5000)

    response = signed_in(alice.owner).get(reverse("portal:dashboard"))

    page = _parsed(response)
    summary = page.tables["usage-summary"]
    assert summary[1:] == [["Alice Checkout", "42", "2", "0", "Usage and quotas of Alice Checkout"]]
    assert f'href="{_usage_url(alice)}"' in response.content.decode()
    assert "5,000" not in response.content.decode()


def test_keys_show_when_they_were_last_used_or_a_dash(alice: Tenant) -> None:
    used = datetime(2030, 5, 6, 7, 8, tzinfo=UTC)
    ApiKey.objects.filter(pk=alice.api_key.pk).update(last_used_at=used)
    never = access.issue_key(application=alice.application, label="spare").api_key
    client = signed_in(alice.owner)
    application_page = reverse(
        "portal:application",
        kwargs={"org": alice.organization.slug, "public_id": alice.application.public_id},
    )

    keys = _parsed(client.get(_usage_url(alice))).tables["keys"]
    listed = _parsed(client.get(application_page)).tables["keys"]

    assert keys[1:] == [
        [str(never), "spare", "—"],
        [str(alice.api_key), "Alice prod", "2030-05-06 07:08 UTC"],
    ]
    last_used = listed[0].index("Last used")
    assert [row[last_used] for row in listed[1:]] == ["—", "2030-05-06 07:08 UTC"]
