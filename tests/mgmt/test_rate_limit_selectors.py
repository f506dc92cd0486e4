"""The compiler's rate-limit rows as read from the database (complete, in constant queries),
and the gateway settings read from Django's."""

import dataclasses
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mgmt.compiler.inputs import GatewaySettings, WindowRow
from mgmt.gateway import selectors
from mgmt.gateway.models import Plan, Subscription
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def test_plan_rows_carry_their_windows_shortest_first_and_their_quota():
    plan = factories.plan(
        quota_requests=1000, quota_period=Plan.QuotaPeriod.YEAR, quota_shadow=True
    )
    factories.plan_rate_limit(plan=plan, requests=5000, unit="day")
    factories.plan_rate_limit(plan=plan, requests=30, unit="second", unit_multiplier=5)
    factories.plan_rate_limit(
        plan=plan, requests=100, unit="minute", algorithm="fixed", shadow=True
    )
    bare = factories.plan()

    plans = {p.id: p for p in selectors.current_rows().plans}

    assert plans[plan.pk].windows == (
        WindowRow(30, 5, "second"),
        WindowRow(100, 60, "minute", "fixed", True),
        WindowRow(5000, 86_400, "day"),
    )
    assert (
        plans[plan.pk].quota_requests,
        plans[plan.pk].quota_period_months,
        plans[plan.pk].quota_shadow,
    ) == (1000, 12, True)
    assert (plans[bare.pk].windows, plans[bare.pk].quota_requests) == ((), 0)


def test_subscription_rows_carry_plan_start_overrides_and_quota_override():
    started = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
    subscription = factories.subscription(started_at=started, quota_requests=777)
    factories.subscription_rate_limit(subscription=subscription, requests=9, unit="hour")
    plain = factories.subscription()

    subs = {s.id: s for s in selectors.current_rows().subscriptions}

    row = subs[subscription.pk]
    assert (row.plan_id, row.plan_slug) == (subscription.plan_id, subscription.plan.slug)
    assert row.started_at == int(started.timestamp())
    assert row.windows == (WindowRow(9, 3600, "hour"),)
    assert row.quota_requests == 777
    assert (subs[plain.pk].windows, subs[plain.pk].quota_requests) == ((), 0)


def test_only_active_subscriptions_and_their_overrides_are_read():
    suspended = factories.subscription(state=Subscription.State.SUSPENDED)
    factories.subscription_rate_limit(subscription=suspended)
    assert suspended.pk not in {s.id for s in selectors.current_rows().subscriptions}


def test_route_rows_carry_cost_and_failure_mode():
    route = factories.route(cost=12, rate_limit_failure="closed")
    (row,) = [r for r in selectors.current_rows().routes if r.id == route.pk]
    assert (row.cost, row.rate_limit_failure) == (12, "closed")


def _queries_for_current_rows() -> int:
    with CaptureQueriesContext(connection) as captured:
        selectors.current_rows()
    return len(captured)


def test_reading_limits_takes_the_same_queries_for_2_or_20_subscriptions():
    plan = factories.plan()
    factories.plan_rate_limit(plan=plan)

    def add_subscriptions(n: int) -> None:
        for _ in range(n):
            subscription = factories.subscription(plan=plan)
            factories.subscription_rate_limit(subscription=subscription, unit="second")

    add_subscriptions(2)
    few = _queries_for_current_rows()
    add_subscriptions(18)
    assert _queries_for_current_rows() == few


def test_gateway_settings_read_the_transport_and_rate_limit_settings(settings):
    settings.TOLLGATE_AUTHZ_TRANSPORT = "grpc"
    settings.TOLLGATE_EXTAUTHZ_TIMEOUT_MS = 40
    settings.TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS = 500
    settings.TOLLGATE_RATELIMIT_DRAFT03_HEADERS = True

    gateway = selectors.gateway_settings()

    assert gateway.authz_transport == "grpc"
    assert gateway.extauthz_timeout_ms == 40
    assert gateway.ratelimit_fail_closed_status == 500
    assert gateway.ratelimit_draft03_headers is True


def _settings_in_a_fresh_process(env: dict[str, str]) -> dict[str, Any]:
    script = (
        "import json, mgmt.settings as s; print(json.dumps({"
        "'transport': s.TOLLGATE_AUTHZ_TRANSPORT, "
        "'ratelimit_timeout': hasattr(s, 'TOLLGATE_RATELIMIT_TIMEOUT_MS')}))"
    )
    environ = {k: v for k, v in os.environ.items() if k != "TOLLGATE_AUTHZ_TRANSPORT"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def test_the_gateway_calls_ext_authz_over_http_unless_told_otherwise():
    assert _settings_in_a_fresh_process({})["transport"] == "http"
    default = GatewaySettings()
    assert (default.authz_transport, default.extauthz_http_cluster) == (
        "http",
        "tollgate_extauthz_http",
    )


def test_no_rate_limit_filter_setting_is_left_for_the_gateway():
    assert {f.name for f in dataclasses.fields(GatewaySettings)}.isdisjoint(
        {"ratelimit_cluster", "ratelimit_timeout_ms"}
    )


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_both_authz_transports_are_accepted_and_the_old_rls_timeout_is_ignored(transport):
    loaded = _settings_in_a_fresh_process(
        {"TOLLGATE_AUTHZ_TRANSPORT": transport, "TOLLGATE_RATELIMIT_TIMEOUT_MS": "0"}
    )
    assert loaded == {"transport": transport, "ratelimit_timeout": False}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS", "429"),
        ("TOLLGATE_AUTHZ_TRANSPORT", "websocket"),
        ("TOLLGATE_AUTHZ_TRANSPORT", "HTTP"),
        ("TOLLGATE_AUTHZ_TRANSPORT", ""),
    ],
)
def test_a_bad_gateway_setting_stops_django_from_starting(name, value):
    result = subprocess.run(
        [sys.executable, "-c", "import mgmt.settings"],
        env={**os.environ, name: value},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be" in result.stderr
