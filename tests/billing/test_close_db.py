"""The meter fold and the close job on PostgreSQL and the counters' Redis: drafts follow
the counter, a period is finalized exactly once with gapless numbers per issuer, a counter
lost in Redis never erases what was read, and a plan change splits the period."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
import redis
from django.db import connection

from mgmt.billing import tasks
from mgmt.billing.close import close_due
from mgmt.billing.meter_fold import fold_meters
from mgmt.billing.models import BillingPeriod, Invoice, PlanPrice, WebhookEvent
from mgmt.billing.periods import open_periods
from mgmt.billing.plan_changes import cut_segment
from mgmt.billing.pricing import price_period
from mgmt.gateway.models import Plan, Subscription
from tests.billing.conftest import STARTED, priced_world

pytestmark = [pytest.mark.db, pytest.mark.redis]

FEB_END = datetime(2028, 2, 29, 10, 0, tzinfo=UTC)  # 31 January + 1 month, in a leap year
SETTLE = timedelta(seconds=60)


@pytest.mark.django_db
def test_the_draft_follows_the_counter_and_the_close_bills_its_final_value_once(
    counters: "redis.Redis",
) -> None:
    world = priced_world()
    during = STARTED + timedelta(days=3)
    world.count(counters, 700, during)
    fold_meters(during)
    draft = Invoice.objects.get(period__subscription_ref=world.subscription.pk)
    assert draft.state == Invoice.State.DRAFT and draft.units == 700
    assert draft.total == Decimal("29.00")  # within the 1,000 included

    world.count(counters, 1501, during + timedelta(days=20))  # 2,201 in all
    fold_meters(during + timedelta(days=20))
    draft.refresh_from_db()
    assert draft.units == 2201
    # 29.00 + 1,000 x 0.02 + 201 x 0.01
    assert draft.total == Decimal("51.01")

    world.count(counters, 9, FEB_END - timedelta(seconds=1))  # the period's last second
    after = FEB_END + SETTLE
    assert close_due(after - timedelta(seconds=1), SETTLE) == 0  # not settled yet
    assert [close_due(after, SETTLE) for _ in range(3)] == [1, 0, 0]
    invoice = Invoice.objects.get(pk=draft.pk)
    assert invoice.state == Invoice.State.FINALIZED
    assert invoice.units == 2210
    assert invoice.total == price_period(world.price.as_price(), 2210).total == Decimal("51.10")
    assert (invoice.sequence, invoice.number) == (1, "INV-ACME-APIS-000001")
    assert sum(line.amount for line in invoice.lines.all()) == invoice.total
    assert WebhookEvent.objects.filter(type="invoice.finalized").count() == 1
    # Units counted in the next period never reach the closed one.
    world.count(counters, 50, FEB_END + timedelta(minutes=5))
    fold_meters(FEB_END + timedelta(minutes=5))
    invoice.refresh_from_db()
    assert invoice.units == 2210 and invoice.lines.count() > 0


@pytest.mark.django_db
def test_numbers_are_per_issuer_and_without_gaps(counters: "redis.Redis") -> None:
    acme = priced_world("acme")
    second = Subscription.objects.create(
        application=acme.subscription.application.__class__.objects.create(
            organization=acme.partner, name="second app"
        ),
        product=acme.product,
        plan=acme.plan,
        started_at=STARTED + timedelta(hours=1),
    )
    other = priced_world("globex")
    fold_meters(STARTED + timedelta(days=1, hours=2))
    close_due(datetime(2028, 3, 1, tzinfo=UTC), SETTLE)
    numbers = sorted(Invoice.objects.values_list("issuer__slug", "number"))
    assert numbers == [
        ("acme-apis", "INV-ACME-APIS-000001"),
        ("acme-apis", "INV-ACME-APIS-000002"),
        ("globex-apis", "INV-GLOBEX-APIS-000001"),
    ]
    assert second.billing_periods.get().invoice.state == Invoice.State.FINALIZED
    assert other.subscription.billing_periods.get().invoice.total == Decimal("29.00")


@pytest.mark.django_db(transaction=True)
def test_two_workers_closing_at_once_finalize_once(counters: "redis.Redis") -> None:
    world = priced_world()
    fold_meters(STARTED + timedelta(days=1))
    world.count(counters, 1234, STARTED + timedelta(days=2))
    closed: list[int] = []
    barrier = threading.Barrier(2)

    def close() -> None:
        try:
            barrier.wait(5)
            closed.append(close_due(FEB_END + SETTLE, SETTLE))
        finally:
            connection.close()

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(closed) == [0, 1]
    invoice = Invoice.objects.get()
    assert (invoice.state, invoice.units, invoice.sequence) == ("finalized", 1234, 1)
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_counter_lost_in_redis_keeps_what_was_read(counters: "redis.Redis") -> None:
    world = priced_world()
    world.count(counters, 3000, STARTED + timedelta(days=1))
    fold_meters(STARTED + timedelta(days=1))
    counters.flushdb()  # Redis restarted without its data
    fold_meters(STARTED + timedelta(days=2))
    assert BillingPeriod.objects.get().units == 3000
    close_due(FEB_END + SETTLE, SETTLE)
    assert Invoice.objects.get().units == 3000


@pytest.mark.django_db
def test_unreadable_counters_close_nothing(counters: "redis.Redis", settings: Any) -> None:
    priced_world()
    fold_meters(STARTED + timedelta(days=1))
    settings.TOLLGATE_COUNTERS_REDIS_URL = "redis://127.0.0.1:1/0"
    report = tasks.meter(now=(FEB_END + SETTLE).isoformat())
    assert report["closed"] == 0
    assert Invoice.objects.get(period__index=0).state == Invoice.State.DRAFT


@pytest.mark.django_db
def test_a_plan_change_mid_period_bills_each_plan_its_units_and_its_share_of_the_fee(
    counters: "redis.Redis",
) -> None:
    world = priced_world()
    fold_meters(STARTED + timedelta(hours=1))
    world.count(counters, 1500, STARTED + timedelta(days=2))
    premium = Plan.objects.create(product=world.product, name="Premium", slug="acme-premium")
    PlanPrice.objects.create(
        plan=premium,
        valid_from=datetime(2027, 1, 1, tzinfo=UTC),
        currency="EUR",
        fee=Decimal("58.00"),
        model="per_unit",
        unit_price=Decimal("0.005"),
    )
    # Half-way through the 29-day period (14.5 days in), the subscription moves to Premium.
    change = STARTED + timedelta(days=14, hours=12)
    world.subscription.plan = premium
    world.subscription.save()
    segment = cut_segment(world.subscription, change)
    assert segment is not None and segment.units_at_start == 1500
    world.count(counters, 400, change + timedelta(days=1))
    close_due(FEB_END + SETTLE, SETTLE)

    invoice = Invoice.objects.get()
    assert invoice.units == 1900
    half = Fraction(1, 2)
    old = price_period(world.price.as_price(), 1500, half)
    new = price_period(premium.prices.get().as_price(), 400, half)
    assert invoice.total == old.total + new.total
    # 14.50 + 10.00 (500 over the 1,000 included at 0.02) + 29.00 + 2.00 (400 at 0.005)
    assert invoice.total == Decimal("55.50")
    descriptions = list(invoice.lines.values_list("description", flat=True))
    assert descriptions[0].startswith("Pay as you go: ")
    assert descriptions[-1].startswith("Premium: ")


@pytest.mark.django_db
def test_opening_periods_costs_one_query_when_every_subscription_has_its_period(
    counters: "redis.Redis", django_assert_max_num_queries: Any
) -> None:
    for name in ("acme", "globex", "initech"):
        priced_world(name)
    during = STARTED + timedelta(days=2)
    assert fold_meters(during).opened == 3
    with django_assert_max_num_queries(1):
        assert open_periods(during) == 0
