"""Revenue: finalized and paid invoices less their credit notes, per month and currency and
per product and plan, summed by the database to the cent; and the report page with its
chart, for the invoices its reader may see."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mgmt.billing import revenue
from mgmt.billing.models import CreditNote, Invoice
from mgmt.gateway.models import Organization, Role, Subscription
from tests.billing.test_admin_invoices import (
    client_of,
    invoice,
    organization,
    staff_user,
    subscription,
    urlpatterns,
)

pytestmark = [pytest.mark.db, pytest.mark.django_db, pytest.mark.urls(__name__)]
__all__ = ["urlpatterns"]  # the reports' URLs mounted as mgmt/urls.py mounts them

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MONTH = revenue.MonthRevenue


def credit_note(target: Invoice, amount: str) -> CreditNote:
    return CreditNote.objects.create(
        invoice=target,
        sequence=CreditNote.objects.count() + 1,
        number=f"CN-{CreditNote.objects.count() + 1:06d}",
        amount=Decimal(amount),
        reason="outage",
    )


@pytest.fixture
def acme() -> Organization:
    return organization("Acme")


@pytest.fixture
def sub(acme: Organization) -> Subscription:
    return subscription(acme, organization("Initech"))


@pytest.fixture
def books(sub: Subscription) -> None:
    """January: 100.00 + 50.50 EUR, 99.99 USD less 0.99 credited; a void and a draft that
    do not count. February: 30.25 EUR less 10.10 credited (its invoice since paid)."""
    invoice(sub, start=JAN, total="100.00", state=Invoice.State.PAID)
    invoice(sub, start=JAN, total="50.50")
    credit_note(invoice(sub, start=JAN, total="99.99", currency="USD"), "0.99")
    invoice(sub, start=JAN, total="20.00", state=Invoice.State.VOID)
    invoice(sub, start=JAN, total="7.00", state=Invoice.State.DRAFT)
    credit_note(invoice(sub, start=FEB, total="30.25", state=Invoice.State.PAID), "10.10")


@pytest.mark.usefixtures("books")
def test_revenue_per_month_and_currency_is_exact() -> None:
    rows = revenue.per_month(Invoice.objects.all())
    assert rows == [
        MONTH(date(2025, 1, 1), "EUR", 2, Decimal("150.50"), Decimal("0.00")),
        MONTH(date(2025, 1, 1), "USD", 1, Decimal("99.99"), Decimal("0.99")),
        MONTH(date(2025, 2, 1), "EUR", 1, Decimal("30.25"), Decimal("10.10")),
    ]
    assert [row.revenue for row in rows] == [
        Decimal("150.50"),
        Decimal("99.00"),
        Decimal("20.15"),
    ]
    assert [(t.currency, t.revenue) for t in revenue.totals(rows)] == [
        ("EUR", Decimal("170.65")),
        ("USD", Decimal("99.00")),
    ]
    assert str(rows[0].invoiced) == "150.50"  # in the currency's minor unit, not 150.500000


@pytest.mark.usefixtures("books")
def test_revenue_from_a_month_on() -> None:
    rows = revenue.per_month(Invoice.objects.all(), since=date(2025, 2, 1))
    assert [(r.month, r.currency, r.revenue) for r in rows] == [
        (date(2025, 2, 1), "EUR", Decimal("20.15"))
    ]


@pytest.mark.usefixtures("books")
def test_the_sums_are_made_by_the_database_in_a_fixed_number_of_queries(
    sub: Subscription,
) -> None:
    with CaptureQueriesContext(connection) as few:
        revenue.per_month(Invoice.objects.all())
        revenue.per_plan(Invoice.objects.all())
    for _ in range(20):
        credit_note(invoice(sub, start=FEB, total="1.00"), "0.50")
    with CaptureQueriesContext(connection) as many:
        months = revenue.per_month(Invoice.objects.all())
        revenue.per_plan(Invoice.objects.all())
    assert len(many) == len(few) == 4
    assert months[-1].revenue == Decimal("30.15")  # 20.15 + 20 x 0.50


@pytest.mark.usefixtures("books")
def test_revenue_per_product_and_plan(acme: Organization, sub: Subscription) -> None:
    # A period that moved to the Enterprise plan counts under the plan it ended on.
    invoice(sub, start=FEB, total="500.00", plan_name="Enterprise")
    rows = revenue.per_plan(Invoice.objects.all())
    assert [(r.product, r.plan, r.currency, r.invoices, r.revenue) for r in rows] == [
        ("Acme API", "Enterprise", "EUR", 1, Decimal("500.00")),
        ("Acme API", "Pro", "EUR", 3, Decimal("170.65")),
        ("Acme API", "Pro", "USD", 1, Decimal("99.00")),
    ]
    assert rows[1].units == 3000


def test_month_arithmetic() -> None:
    assert revenue.add_months(date(2025, 11, 1), 3) == date(2026, 2, 1)
    assert revenue.add_months(date(2025, 1, 1), -1) == date(2024, 12, 1)
    assert revenue.months_between(date(2024, 11, 1), date(2025, 1, 1)) == [
        date(2024, 11, 1),
        date(2024, 12, 1),
        date(2025, 1, 1),
    ]


# --- the report page ---------------------------------------------------------------------


def this_month(months_back: int = 0) -> datetime:
    month = revenue.add_months(revenue.month_start(timezone.now()), -months_back)
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def test_the_report_shows_the_readers_revenue_with_a_chart(
    acme: Organization, sub: Subscription
) -> None:
    invoice(sub, start=this_month(1), total="40.00")
    credit_note(invoice(sub, start=this_month(), total="60.00"), "5.00")
    invoice(sub, start=this_month(), total="12.00", currency="USD")
    globex = organization("Globex")
    invoice(subscription(globex, organization("Hooli")), total="999.00", start=this_month())
    alice = client_of(staff_user("alice", acme, Role.BILLING))
    page = alice.get(reverse("billing_reports:revenue"))
    text = page.content.decode()
    assert page.status_code == 200
    assert text.count('<svg xmlns="http://www.w3.org/2000/svg" class="tg-chart') == 2
    # A chart per currency, each on its own scale.
    assert 'id="tg-revenue-eur"' in text and 'id="tg-revenue-usd"' in text
    assert '<td class="num" data-total="EUR">95.00</td>' in text
    assert '<td class="num" data-total="USD">12.00</td>' in text
    assert "999.00" not in text and "Globex" not in text  # another issuer's books


def test_the_report_is_linked_from_the_invoice_list(acme: Organization) -> None:
    alice = client_of(staff_user("alice", acme))
    page = alice.get(reverse("admin:billing_invoice_changelist")).content.decode()
    assert f'href="{reverse("billing_reports:revenue")}"' in page


def test_the_report_needs_the_invoice_permission(acme: Organization) -> None:
    nobody = client_of(staff_user("nobody", acme, perms=()))
    assert nobody.get(reverse("billing_reports:revenue")).status_code == 403
    outside = Client()
    response = outside.get(reverse("billing_reports:revenue"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_report_range(acme: Organization, sub: Subscription) -> None:
    invoice(sub, start=this_month(18), total="7.00")
    alice = client_of(staff_user("alice", acme))
    url = reverse("billing_reports:revenue")
    assert "7.00" not in alice.get(url).content.decode()
    assert (
        '<td class="num" data-total="EUR">7.00</td>'
        in alice.get(url + "?months=24").content.decode()
    )
    assert alice.get(url + "?months=banana").context["months"] == 12
