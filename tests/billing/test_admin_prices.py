"""Prices in admin: each bad price refused on the field (or tier) at fault, a price in force
read-only, a new one starting now or later, and no currency change while a period of the
plan is open."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mgmt.billing.models import BillingPeriod, PlanPrice, PriceTier
from mgmt.gateway.models import (
    Application,
    Membership,
    Organization,
    Plan,
    Product,
    Role,
    Subscription,
)

pytestmark = [pytest.mark.db, pytest.mark.django_db]

PRICE_PERMS = ("view_planprice", "add_planprice", "change_planprice", "delete_planprice")
ADD = "admin:billing_planprice_add"


def owner_of(organization: Organization, username: str) -> Client:
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="billing", codename__in=PRICE_PERMS)
    )
    Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def plan() -> Plan:
    acme = Organization.objects.create(name="Acme", slug="acme")
    product = Product.objects.create(organization=acme, name="Maps", slug="maps")
    return Plan.objects.create(product=product, name="Pro", slug="pro")


@pytest.fixture
def owner(plan: Plan) -> Client:
    return owner_of(plan.product.organization, "alice")


def tiers(rows: list[dict[str, Any]], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tiers-TOTAL_FORMS": len(rows),
        "tiers-INITIAL_FORMS": initial,
        "tiers-MIN_NUM_FORMS": 0,
        "tiers-MAX_NUM_FORMS": 1000,
    }
    for i, row in enumerate(rows):
        fields = {"id": "", "up_to": "", "unit_price": "0", "flat_fee": "0", **row}
        data.update({f"tiers-{i}-{name}": value for name, value in fields.items()})
    return data


def price_form(
    plan: Plan,
    starts: datetime | None = None,
    rows: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    starts = starts or timezone.now() + timedelta(days=1)
    return {
        "plan": plan.pk,
        "valid_from_0": starts.strftime("%Y-%m-%d"),
        "valid_from_1": starts.strftime("%H:%M:%S"),
        "currency": "EUR",
        "fee": "10.00",
        "included_units": "1000",
        "model": "per_unit",
        "unit_price": "0.001",
        "package_size": "0",
        "package_price": "0",
        **fields,
        **tiers(rows or []),
    }


def add_price(client: Client, data: dict[str, Any]) -> HttpResponse:
    return client.post(reverse(ADD), data)


def form_errors(response: HttpResponse) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form is shown again with its errors"
    return {k: list(v) for k, v in response.context["adminform"].form.errors.items()}


def tier_errors(response: HttpResponse) -> tuple[list[str], list[dict[str, list[str]]]]:
    assert response.status_code == 200, "the form is shown again with its errors"
    formset = response.context["inline_admin_formsets"][0].formset
    return list(formset.non_form_errors()), [dict(e) for e in formset.errors]


# --- what pricing.validate refuses, on its field ----------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"fee": "-1"}, "fee", "must not be negative"),
        ({"unit_price": "2000000"}, "unit_price", "must not exceed 1,000,000"),
        ({"fee": "5000000000"}, "fee", "must not exceed 1,000,000,000"),
        ({"currency": "XXX"}, "currency", "'XXX' is not an ISO 4217 currency"),
        ({"currency": "EURO"}, "currency", "Ensure this value has at most 3 characters"),
        ({"model": "package", "unit_price": "0"}, "package_size", "a package holds at least"),
        ({"model": "volume"}, "unit_price", "only a per_unit price has one"),
        ({"package_price": "3"}, "package_price", "only a package price has one"),
    ],
)
def test_a_bad_price_is_refused_on_its_field(
    plan: Plan, owner: Client, fields: dict[str, str], field: str, message: str
) -> None:
    errors = form_errors(add_price(owner, price_form(plan, **fields)))
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert not PlanPrice.objects.exists()


def test_tiers_on_a_model_that_has_none_are_refused(plan: Plan, owner: Client) -> None:
    response = add_price(owner, price_form(plan, rows=[{"up_to": "", "unit_price": "0.01"}]))
    assert tier_errors(response) == (["a per_unit price has no tiers"], [{}])
    assert not PlanPrice.objects.exists()


def test_a_graduated_price_needs_tiers(plan: Plan, owner: Client) -> None:
    response = add_price(owner, price_form(plan, model="graduated", unit_price="0"))
    assert tier_errors(response) == (["at least one tier is needed"], [])


def test_overlapping_tiers_are_refused_on_the_tier_at_fault(plan: Plan, owner: Client) -> None:
    rows = [
        {"up_to": "1000", "unit_price": "0.002"},
        {"up_to": "", "unit_price": "0.001"},
        {"up_to": "1000", "unit_price": "0.0015"},
    ]
    response = add_price(owner, price_form(plan, model="graduated", unit_price="0", rows=rows))
    non_form, per_tier = tier_errors(response)
    assert non_form == [
        "tier 2 (in order of bounds): 1,000 does not exceed the bound before, 1,000"
    ]
    assert per_tier == [{}, {}, {"up_to": ["1,000 does not exceed the bound before, 1,000"]}]
    assert not PlanPrice.objects.exists()


def test_two_open_tiers_and_a_negative_tier_price(plan: Plan, owner: Client) -> None:
    rows = [{"up_to": "", "unit_price": "0.002"}, {"up_to": "", "unit_price": "0.001"}]
    response = add_price(owner, price_form(plan, model="volume", unit_price="0", rows=rows))
    assert tier_errors(response)[1] == [{"up_to": ["only the last tier is open-ended"]}, {}]
    negative = [{"up_to": "10", "unit_price": "-1"}, {"up_to": "", "unit_price": "0"}]
    response = add_price(owner, price_form(plan, model="volume", unit_price="0", rows=negative))
    assert tier_errors(response)[1] == [{"unit_price": ["must not be negative"]}, {}]


def test_a_graduated_price_with_its_tiers_is_saved(plan: Plan, owner: Client) -> None:
    rows = [
        {"up_to": "", "unit_price": "0.001"},  # typed out of order: sorted by bound
        {"up_to": "10000", "unit_price": "0.002", "flat_fee": "5"},
    ]
    data = price_form(plan, model="graduated", unit_price="0", currency="eur", rows=rows)
    assert add_price(owner, data).status_code == 302
    price = PlanPrice.objects.get()
    assert price.currency == "EUR"
    assert [(t.up_to, t.unit_price, t.flat_fee) for t in PriceTier.objects.all()] == [
        (10000, Decimal("0.002"), Decimal("5")),
        (None, Decimal("0.001"), Decimal("0")),
    ]


# --- when a price starts ----------------------------------------------------------------------


def test_a_new_price_must_not_start_in_the_past(plan: Plan, owner: Client) -> None:
    yesterday = timezone.now() - timedelta(days=1)
    errors = form_errors(add_price(owner, price_form(plan, starts=yesterday)))
    assert list(errors) == ["valid_from"]
    assert errors["valid_from"][0].startswith("must not be in the past")


def test_the_default_start_a_moment_ago_means_now(plan: Plan, owner: Client) -> None:
    before = timezone.now()
    assert (
        add_price(owner, price_form(plan, starts=before - timedelta(minutes=2))).status_code == 302
    )
    assert PlanPrice.objects.get().valid_from >= before.replace(microsecond=0)


def test_the_add_page_offers_now_as_the_start(plan: Plan, owner: Client) -> None:
    form = owner.get(reverse(ADD)).context["adminform"].form
    start = form["valid_from"].initial
    assert abs(start - timezone.now()) < timedelta(seconds=30)


# --- a price in force ---------------------------------------------------------------------


def test_a_price_in_force_is_read_only(plan: Plan, owner: Client) -> None:
    price = PlanPrice.objects.create(
        plan=plan,
        valid_from=timezone.now() - timedelta(days=3),
        currency="EUR",
        fee=Decimal("10"),
    )
    url = reverse("admin:billing_planprice_change", args=[price.pk])
    page = owner.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert 'name="fee"' not in text and 'name="_save"' not in text
    changed = price_form(plan, starts=price.valid_from, fee="99")
    assert owner.post(url, changed).status_code == 403
    price.refresh_from_db()
    assert price.fee == Decimal("10")
    delete = reverse("admin:billing_planprice_delete", args=[price.pk])
    assert owner.post(delete, {"post": "yes"}).status_code == 403


def test_a_scheduled_price_can_still_change(plan: Plan, owner: Client) -> None:
    price = PlanPrice.objects.create(
        plan=plan, valid_from=timezone.now() + timedelta(days=3), currency="EUR"
    )
    url = reverse("admin:billing_planprice_change", args=[price.pk])
    data = price_form(plan, starts=price.valid_from, fee="12.00")
    assert owner.post(url, data).status_code == 302
    price.refresh_from_db()
    assert price.fee == Decimal("12.00")


# --- currency ----------------------------------------------------------------------------------


def open_period(plan: Plan) -> BillingPeriod:
    partner = Organization.objects.create(name="Initech", slug="initech")
    app = Application.objects.create(organization=partner, name="App")
    start = datetime(2025, 1, 1, tzinfo=UTC)
    sub = Subscription.objects.create(
        application=app, product=plan.product, plan=plan, started_at=start
    )
    return BillingPeriod.objects.create(
        subscription=sub,
        subscription_ref=sub.pk,
        index=0,
        starts_at=start,
        ends_at=start + timedelta(days=31),
        issuer=plan.product.organization,
        partner=partner,
        application_name=app.name,
        product_name=plan.product.name,
        counter_key="k",
    )


def test_a_currency_change_mid_period_is_refused(plan: Plan, owner: Client) -> None:
    PlanPrice.objects.create(
        plan=plan, valid_from=timezone.now() - timedelta(days=40), currency="EUR"
    )
    period = open_period(plan)
    errors = form_errors(add_price(owner, price_form(plan, currency="USD")))
    assert list(errors) == ["currency"]
    assert errors["currency"][0].startswith(
        "a currency change mid-period: Maps / Pro is priced in EUR and 1 subscription of it "
        "has an open billing period."
    )
    assert add_price(owner, price_form(plan, currency="EUR")).status_code == 302
    period.state = BillingPeriod.State.CLOSED
    period.save()
    later = timezone.now() + timedelta(days=2)
    assert add_price(owner, price_form(plan, starts=later, currency="USD")).status_code == 302
    assert PlanPrice.objects.order_by("valid_from").last().currency == "USD"  # type: ignore[union-attr]


def test_the_first_price_of_a_plan_may_take_any_currency(plan: Plan, owner: Client) -> None:
    open_period(plan)
    assert add_price(owner, price_form(plan, currency="JPY", fee="1000")).status_code == 302


# --- scope --------------------------------------------------------------------------------------


def test_staff_price_only_their_own_organizations_plans(plan: Plan, owner: Client) -> None:
    globex = Organization.objects.create(name="Globex", slug="globex")
    bob = owner_of(globex, "bob")
    errors = form_errors(add_price(bob, price_form(plan)))
    assert list(errors) == ["plan"]
    price = PlanPrice.objects.create(
        plan=plan, valid_from=timezone.now() + timedelta(days=3), currency="EUR"
    )
    listed = bob.get(reverse("admin:billing_planprice_changelist")).context["cl"].result_list
    assert list(listed) == []
    assert bob.get(reverse("admin:billing_planprice_change", args=[price.pk])).status_code == 302
    mine = owner.get(reverse("admin:billing_planprice_changelist")).context["cl"].result_list
    assert list(mine) == [price]


def test_the_list_says_which_price_is_in_force(plan: Plan, owner: Client) -> None:
    now = timezone.now()
    for days, fee in ((-60, "1"), (-30, "2"), (30, "3")):
        PlanPrice.objects.create(
            plan=plan, valid_from=now + timedelta(days=days), currency="EUR", fee=Decimal(fee)
        )
    page = owner.get(reverse("admin:billing_planprice_changelist"))
    admin_class = page.context["cl"].model_admin
    rows = page.context["cl"].result_list
    assert [(row.fee, admin_class.status(row)) for row in rows] == [
        (Decimal("3"), "scheduled"),
        (Decimal("2"), "in force"),
        (Decimal("1"), "replaced"),
    ]
