"""Rate limits, quotas and route costs the owner gets wrong are refused on the field to fix."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model

from mgmt.gateway.models import Plan, PlanRateLimit, SubscriptionRateLimit
from ratelimit_svc.limits import MAX_REQUESTS
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def _errors(instance: Model) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def test_a_valid_plan_limit_passes_full_clean():
    PlanRateLimit(
        plan=factories.plan(), requests=100, unit="minute", unit_multiplier=5
    ).full_clean()


def test_a_limit_of_0_is_refused_telling_the_owner_to_suspend_the_subscription_instead():
    errors = _errors(PlanRateLimit(plan=factories.plan(), requests=0, unit="minute"))
    assert set(errors) == {"requests"}
    assert "suspend the subscription instead" in " ".join(errors["requests"])


@pytest.mark.parametrize("requests", [-1, MAX_REQUESTS + 1])
def test_a_negative_or_absurd_limit_is_refused_on_requests(requests):
    errors = _errors(PlanRateLimit(plan=factories.plan(), requests=requests, unit="second"))
    assert set(errors) == {"requests"}


def test_an_override_of_0_is_refused_like_a_plan_limit_of_0():
    override = SubscriptionRateLimit(subscription=factories.subscription(), requests=0)
    assert "suspend the subscription" in " ".join(_errors(override)["requests"])


def test_60_seconds_is_the_same_window_as_1_minute_and_is_refused_on_unit():
    limit = factories.plan_rate_limit(unit="minute", unit_multiplier=1)
    errors = _errors(PlanRateLimit(plan=limit.plan, requests=50, unit="second", unit_multiplier=60))
    assert set(errors) == {"unit"}
    assert "already has a limit per 1 minute (60 seconds)" in errors["unit"][0]


def test_the_same_window_on_another_plan_or_of_another_length_is_accepted():
    limit = factories.plan_rate_limit(unit="minute")
    PlanRateLimit(plan=factories.plan(), requests=5, unit="second", unit_multiplier=60).full_clean()
    PlanRateLimit(plan=limit.plan, requests=5, unit="second", unit_multiplier=59).full_clean()


def test_a_limit_does_not_clash_with_itself_when_edited():
    limit = factories.plan_rate_limit(unit="hour")
    limit.requests = 7
    limit.full_clean()


def test_a_subscriptions_two_overrides_of_one_window_are_refused():
    override = factories.subscription_rate_limit(unit="hour", unit_multiplier=2)
    errors = _errors(
        SubscriptionRateLimit(
            subscription=override.subscription, requests=1, unit="minute", unit_multiplier=120
        )
    )
    assert set(errors) == {"unit"}
    assert "this subscription already has a limit per 2 hours" in errors["unit"][0]


def test_an_override_of_the_plans_own_window_is_accepted_since_that_is_what_it_is_for():
    limit = factories.plan_rate_limit(unit="minute")
    subscription = factories.subscription(plan=limit.plan)
    SubscriptionRateLimit(
        subscription=subscription, requests=10_000, unit="second", unit_multiplier=60
    ).full_clean()


def test_a_window_longer_than_366_days_is_refused_on_unit_multiplier():
    plan = factories.plan()
    errors = _errors(PlanRateLimit(plan=plan, requests=5, unit="day", unit_multiplier=367))
    assert set(errors) == {"unit_multiplier"}
    assert "at most 366 days; 367 days is too long" in errors["unit_multiplier"][0]
    PlanRateLimit(plan=plan, requests=5, unit="day", unit_multiplier=366).full_clean()


def test_a_window_of_0_units_is_refused_on_unit_multiplier():
    errors = _errors(PlanRateLimit(plan=factories.plan(), requests=5, unit_multiplier=0))
    assert set(errors) == {"unit_multiplier"}


def test_the_database_refuses_the_same_unit_and_multiplier_twice_for_one_plan():
    limit = factories.plan_rate_limit(unit="day")
    with pytest.raises(IntegrityError), transaction.atomic():
        PlanRateLimit.objects.create(plan=limit.plan, requests=1, unit="day")


@pytest.mark.parametrize("cost", [0, 10_001])
def test_a_route_cost_out_of_range_is_refused_on_cost(cost):
    route = factories.route()
    route.cost = cost
    assert set(_errors(route)) == {"cost"}


def test_a_route_with_an_unknown_failure_mode_is_refused():
    route = factories.route()
    route.rate_limit_failure = "sometimes"
    assert set(_errors(route)) == {"rate_limit_failure"}


def test_a_plan_quota_of_0_is_refused_and_empty_means_no_quota():
    plan = factories.plan()
    plan.quota_requests = 0
    errors = _errors(plan)
    assert set(errors) == {"quota_requests"}
    assert "leave it empty for no quota" in errors["quota_requests"][0]
    plan.quota_requests = None
    plan.full_clean()


def test_a_subscription_quota_override_of_0_is_refused():
    subscription = factories.subscription()
    subscription.quota_requests = 0
    assert set(_errors(subscription)) == {"quota_requests"}


def test_a_yearly_plan_counts_12_months():
    plan = factories.plan(quota_requests=10, quota_period=Plan.QuotaPeriod.YEAR)
    assert plan.quota_period_months == 12
    assert factories.plan().quota_period_months == 1


def test_a_subscription_quota_override_on_a_plan_without_quota_is_accepted():
    subscription = factories.subscription()
    assert subscription.plan.quota_requests is None
    subscription.quota_requests = 5000
    subscription.full_clean()
