"""Limits edited in admin reach the published snapshot; refused ones save and publish nothing."""

import pytest
from django.urls import reverse
from envoy.config.route.v3 import route_pb2

from mgmt.gateway.models import PlanRateLimit, Snapshot, Subscription, SubscriptionRateLimit
from protos.tollgate.v1 import resources_pb2, snapshot_pb2
from tests.mgmt import factories
from tests.mgmt.admin_forms import plan_form as _plan_form
from tests.mgmt.admin_forms import subscription_form as _subscription_form
from tests.mgmt.route_identity import route_identity
from xds_server import type_urls

# Publication runs in on_commit hooks: these tests commit for real.
pytestmark = [pytest.mark.db, pytest.mark.django_db(transaction=True)]


def _published_limits(subscription: Subscription) -> resources_pb2.SubscriptionLimits:
    latest = Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).latest()
    message = snapshot_pb2.Snapshot.FromString(bytes(latest.payload))
    (shards,) = [s for s in message.sets if s.type_url == type_urls.RATE_LIMIT_SHARD]
    for resource in shards.resources:
        shard = resources_pb2.RateLimitShard()
        assert resource.body.Unpack(shard)
        for limits in shard.subscriptions:
            if limits.subscription_id == subscription.pk:
                return limits
    raise AssertionError(f"subscription {subscription.pk} is in no rate-limit shard")


def _windows(limits: resources_pb2.SubscriptionLimits) -> list[tuple[int, int, str]]:
    return [(w.requests, w.window_seconds, w.unit) for w in limits.windows]


def test_plan_limits_and_quota_added_in_admin_are_published_for_its_subscriptions(admin_client):
    subscription = factories.subscription()
    plan = subscription.plan
    url = reverse("admin:gateway_plan_change", args=[plan.pk])

    response = admin_client.post(
        url,
        _plan_form(
            plan,
            [{"requests": 10, "unit": "second"}, {"requests": 500, "unit": "minute"}],
            quota_requests=100_000,
            quota_period="year",
        ),
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    assert plan.rate_limits.count() == 2
    limits = _published_limits(subscription)
    assert _windows(limits) == [(10, 1, "second"), (500, 60, "minute")]
    assert (limits.quota.requests, limits.quota.period_months) == (100_000, 12)
    assert limits.quota.anchor == int(subscription.started_at.timestamp())


def test_changing_a_plan_limit_in_admin_publishes_the_new_limit(admin_client):
    limit = factories.plan_rate_limit(requests=100, unit="minute")
    subscription = factories.subscription(plan=limit.plan)
    assert _windows(_published_limits(subscription)) == [(100, 60, "minute")]

    response = admin_client.post(
        reverse("admin:gateway_plan_change", args=[limit.plan.pk]),
        _plan_form(
            limit.plan,
            [{"id": limit.pk, "requests": 250, "unit": "minute", "unit_multiplier": 2}],
            initial=1,
        ),
    )

    assert response.status_code == 302
    assert _windows(_published_limits(subscription)) == [(250, 120, "minute")]


def test_a_subscription_override_in_admin_replaces_the_plans_window_of_the_same_length(
    admin_client,
):
    plan = factories.plan()
    factories.plan_rate_limit(plan=plan, requests=100, unit="minute")
    factories.plan_rate_limit(plan=plan, requests=5, unit="second")
    subscription = factories.subscription(plan=plan)
    other = factories.subscription(plan=plan)

    response = admin_client.post(
        reverse("admin:gateway_subscription_change", args=[subscription.pk]),
        _subscription_form(
            subscription,
            [{"requests": 1000, "unit": "second", "unit_multiplier": 60}],
            quota_requests=5000,
        ),
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    assert SubscriptionRateLimit.objects.filter(subscription=subscription).count() == 1
    mine = _published_limits(subscription)
    assert _windows(mine) == [(5, 1, "second"), (1000, 60, "second")]
    assert (mine.quota.requests, mine.quota.period_months) == (5000, 1)
    theirs = _published_limits(other)
    assert _windows(theirs) == [(5, 1, "second"), (100, 60, "minute")]
    assert not theirs.HasField("quota")


def test_two_new_limits_of_one_window_in_one_admin_form_are_refused_and_nothing_publishes(
    admin_client,
):
    plan = factories.subscription().plan
    snapshots_before = Snapshot.objects.count()

    response = admin_client.post(
        reverse("admin:gateway_plan_change", args=[plan.pk]),
        _plan_form(
            plan,
            [
                {"requests": 10, "unit": "second", "unit_multiplier": 60},
                {"requests": 20, "unit": "minute"},
            ],
        ),
    )

    assert response.status_code == 200
    (formset,) = response.context["inline_admin_formsets"]
    assert formset.formset.errors[1] == {
        "unit": [
            "this plan already has a limit per 1 minute (60 seconds): one limit per window "
            "length, so change that limit instead"
        ]
    }
    assert not PlanRateLimit.objects.filter(plan=plan).exists()
    assert Snapshot.objects.count() == snapshots_before


def test_a_limit_of_0_in_admin_is_refused_with_the_suspend_advice(admin_client):
    subscription = factories.subscription()

    response = admin_client.post(
        reverse("admin:gateway_subscription_change", args=[subscription.pk]),
        _subscription_form(subscription, [{"requests": 0, "unit": "minute"}]),
    )

    assert response.status_code == 200
    assert "suspend the subscription instead" in response.content.decode()
    assert not SubscriptionRateLimit.objects.exists()


def test_saving_or_deleting_a_limit_through_the_orm_publishes():
    subscription = factories.subscription()
    before = Snapshot.objects.count()

    limit = factories.plan_rate_limit(plan=subscription.plan, requests=42, unit="hour")
    assert Snapshot.objects.count() == before + 1
    assert _windows(_published_limits(subscription)) == [(42, 3600, "hour")]

    limit.delete()
    assert Snapshot.objects.count() == before + 2
    assert _windows(_published_limits(subscription)) == []


def test_route_cost_and_failure_mode_edited_in_admin_reach_the_route(admin_client):
    route = factories.catalog()

    response = admin_client.post(
        reverse("admin:gateway_route_change", args=[route.pk]),
        {
            "api_version": route.api_version_id,
            "match_type": "prefix",
            "path": "/",
            "methods": "",
            "upstream": route.upstream_id,
            "timeout_ms": 15000,
            "position": 0,
            "cost": 7,
            "rate_limit_failure": "closed",
        },
    )

    assert response.status_code == 302
    route.refresh_from_db()
    assert (route.cost, route.rate_limit_failure) == (7, "closed")
    latest = Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).latest()
    message = snapshot_pb2.Snapshot.FromString(bytes(latest.payload))
    (routes,) = [s for s in message.sets if s.type_url == type_urls.ROUTE]
    config = route_pb2.RouteConfiguration()
    assert routes.resources[0].body.Unpack(config)
    (compiled,) = [r for vh in config.virtual_hosts for r in vh.routes]
    context = route_identity(compiled)
    assert (context["cost"], context["failure"], context["route"]) == ("7", "closed", str(route.pk))
