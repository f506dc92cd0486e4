"""Billing test setup: the counters Redis is the machine's Redis, database 9 (this suite's
alone, emptied before and after), and a priced world built with the ORM."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis

from mgmt.analytics.partner_usage import prepared_quota
from mgmt.billing.models import PlanPrice, PriceTier
from mgmt.gateway.models import Application, Organization, Plan, Product, Subscription
from ratelimit_svc.counters import PreparedQuota
from tests.redis_server import database_url, flushed

COUNTERS_DB = 9
# A subscription started on 31 January of a leap year: its periods end 29 February, 31 March...
STARTED = datetime(2028, 1, 31, 10, 0, tzinfo=UTC)


@pytest.fixture
def counters(machine_redis: str, settings: Any) -> Iterator["redis.Redis"]:
    url = database_url(machine_redis, COUNTERS_DB)
    settings.TOLLGATE_COUNTERS_REDIS_URL = url
    with flushed(url) as client:
        yield client


@dataclass
class PricedWorld:
    issuer: Organization
    partner: Organization
    product: Product
    plan: Plan
    price: PlanPrice
    subscription: Subscription

    def quota(self, subscription: Subscription | None = None) -> PreparedQuota:
        prepared = prepared_quota(subscription or self.subscription, metered=True)
        assert prepared is not None
        return prepared

    def count(
        self, client: "redis.Redis", units: int, at: datetime, sub: Subscription | None = None
    ) -> None:
        """Units admitted at `at`, where the request path counts them (the same key and
        bucket check.lua adds to)."""
        quota = self.quota(sub)
        index = quota.period_at(int(at.timestamp() * 1000)).index
        client.hincrby(quota.key, str(index), units)


def priced_world(name: str = "acme", *, started: datetime = STARTED) -> PricedWorld:
    issuer = Organization.objects.create(name=f"{name} APIs", slug=f"{name}-apis")
    partner = Organization.objects.create(name=f"{name} partner", slug=f"{name}-partner")
    product = Product.objects.create(
        organization=issuer, name=f"{name} product", slug=f"{name}-product"
    )
    plan = Plan.objects.create(product=product, name="Pay as you go", slug=f"{name}-payg")
    price = PlanPrice.objects.create(
        plan=plan,
        valid_from=datetime(2027, 1, 1, tzinfo=UTC),
        currency="EUR",
        fee=Decimal("29.00"),
        included_units=1000,
        model="graduated",
    )
    PriceTier.objects.create(price=price, up_to=1000, unit_price=Decimal("0.02"))
    PriceTier.objects.create(price=price, up_to=None, unit_price=Decimal("0.01"))
    application = Application.objects.create(organization=partner, name=f"{name} app")
    subscription = Subscription.objects.create(
        application=application, product=product, plan=plan, started_at=started
    )
    return PricedWorld(issuer, partner, product, plan, price, subscription)
