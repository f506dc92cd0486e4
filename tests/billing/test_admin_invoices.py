"""The invoices API owners see in admin: only those their organizations issue, changed only
by the actions (paid, void) and credit notes the documents service allows, exported as CSV
no spreadsheet runs as formulas."""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, include, path, reverse

import mgmt.urls
from mgmt.billing import invoice_csv
from mgmt.billing.models import (
    BillingPeriod,
    CreditNote,
    Invoice,
    InvoiceLine,
    PeriodSegment,
    WebhookEvent,
)
from mgmt.billing.revenue import add_months
from mgmt.gateway.models import (
    Application,
    Membership,
    Organization,
    Plan,
    Product,
    Role,
    Subscription,
)

# The reports' URLs, as mgmt/urls.py mounts them (added here until it does).
urlpatterns: list[URLPattern | URLResolver] = list(mgmt.urls.urlpatterns)
if not any(getattr(p, "namespace", None) == "billing_reports" for p in urlpatterns):
    urlpatterns.insert(0, path("admin/billing/reports/", include("mgmt.billing.urls")))

pytestmark = [pytest.mark.db, pytest.mark.django_db, pytest.mark.urls(__name__)]

INVOICE_PERMS = ("view_invoice", "change_invoice")
JAN = datetime(2025, 1, 1, tzinfo=UTC)


# --- builders (test_revenue uses them too) ---------------------------------------------------


def organization(name: str) -> Organization:
    return Organization.objects.create(name=name, slug=name.lower())


def subscription(
    issuer: Organization, partner: Organization, app_name: str = "App"
) -> Subscription:
    product, _ = Product.objects.get_or_create(
        organization=issuer, slug=f"{issuer.slug}-api", defaults={"name": f"{issuer.name} API"}
    )
    plan, _ = Plan.objects.get_or_create(product=product, slug=f"{issuer.slug}-pro", name="Pro")
    app, _ = Application.objects.get_or_create(organization=partner, name=app_name)
    return Subscription.objects.create(application=app, product=product, plan=plan, started_at=JAN)


def invoice(
    sub: Subscription,
    *,
    start: datetime = JAN,
    total: str = "100.00",
    currency: str = "EUR",
    state: str = Invoice.State.FINALIZED,
    units: int = 1000,
    plan_name: str | None = None,
) -> Invoice:
    """A closed period of `sub` from `start` with its invoice (numbered unless a draft)."""
    issuer, partner = sub.product.organization, sub.application.organization
    end = add_months(start.date(), 1)
    period = BillingPeriod.objects.create(
        subscription=sub,
        subscription_ref=sub.pk,
        index=BillingPeriod.objects.filter(subscription_ref=sub.pk).count(),
        starts_at=start,
        ends_at=datetime(end.year, end.month, 1, tzinfo=UTC),
        issuer=issuer,
        partner=partner,
        application_name=sub.application.name,
        product_name=sub.product.name,
        counter_key=f"tg:units:{sub.pk}",
        units=units,
        state=BillingPeriod.State.CLOSED,
    )
    PeriodSegment.objects.create(
        period=period,
        number=0,
        plan=sub.plan,
        plan_name=plan_name or sub.plan.name,
        starts_at=start,
    )
    numbered: dict[str, Any] = {}
    if state != Invoice.State.DRAFT:
        sequence = Invoice.objects.filter(issuer=issuer, sequence__isnull=False).count() + 1
        numbered = {
            "sequence": sequence,
            "number": f"INV-{issuer.slug.upper()}-{sequence:06d}",
            "finalized_at": period.ends_at,
        }
    made = Invoice.objects.create(
        period=period,
        issuer=issuer,
        partner=partner,
        state=state,
        currency=currency,
        units=units,
        total=Decimal(total),
        **numbered,
    )
    InvoiceLine.objects.create(
        invoice=made,
        position=0,
        kind="fee",
        description="Recurring fee",
        quantity=1,
        unit_amount=Decimal(total),
        amount=Decimal(total),
    )
    return made


def staff_user(
    username: str,
    organization: Organization | None = None,
    role: str = Role.OWNER,
    perms: Iterable[str] = INVOICE_PERMS,
) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="billing", codename__in=list(perms))
    )
    if organization is not None:
        Membership.objects.create(user=user, organization=organization, role=role)
    return user


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def message_texts(response: HttpResponse) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    acme: Organization
    globex: Organization
    initech: Organization
    acme_invoice: Invoice
    globex_invoice: Invoice
    alice: Client  # owner of Acme
    bob: Client  # billing member of Globex


@pytest.fixture
def world() -> World:
    acme, globex, initech = organization("Acme"), organization("Globex"), organization("Initech")
    return World(
        acme=acme,
        globex=globex,
        initech=initech,
        acme_invoice=invoice(subscription(acme, initech), total="100.00"),
        globex_invoice=invoice(subscription(globex, initech), total="80.00", currency="USD"),
        alice=client_of(staff_user("alice", acme, Role.OWNER)),
        bob=client_of(staff_user("bob", globex, Role.BILLING)),
    )


CHANGELIST = "admin:billing_invoice_changelist"


def listed(client: Client, query: str = "") -> list[str]:
    response = client.get(reverse(CHANGELIST) + query)
    assert response.status_code == 200
    return sorted(str(i) for i in response.context["cl"].result_list)


def act(client: Client, action: str, *invoices: Invoice) -> HttpResponse:
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [i.pk for i in invoices]},
        follow=True,
    )


def credit(client: Client, target: Invoice, amount: str, reason: str = "outage") -> HttpResponse:
    url = reverse("admin:billing_invoice_credit_note", args=[target.pk])
    return client.post(url, {"amount": amount, "reason": reason}, follow=True)


# --- scoping ---------------------------------------------------------------------------------


def test_staff_see_only_the_invoices_their_organizations_issue(world: World) -> None:
    assert listed(world.alice) == ["INV-ACME-000001"]
    assert listed(world.bob) == ["INV-GLOBEX-000001"]
    page = world.alice.get(reverse(CHANGELIST)).content.decode()
    assert "Globex" not in page  # not even as a filter choice


def test_a_developer_member_and_a_superuser(world: World) -> None:
    carol = client_of(staff_user("carol", world.acme, Role.DEVELOPER))
    assert listed(carol) == []
    root = User.objects.create_superuser("root", password="x")
    assert listed(client_of(root)) == ["INV-ACME-000001", "INV-GLOBEX-000001"]


def test_another_issuers_invoice_is_out_of_reach(world: World) -> None:
    other = world.globex_invoice
    page = world.alice.get(reverse("admin:billing_invoice_change", args=[other.pk]))
    assert page.status_code == 302  # admin's "does not exist", as for a wrong id
    assert credit(world.alice, other, "1.00").status_code == 404
    act(world.alice, "mark_paid", other)
    other.refresh_from_db()
    assert other.state == Invoice.State.FINALIZED
    assert not CreditNote.objects.exists()


def test_the_list_filters_by_month_of_the_period(world: World) -> None:
    sub = world.acme_invoice.period.subscription
    assert sub is not None
    invoice(sub, start=datetime(2025, 2, 1, tzinfo=UTC), total="5.00")
    assert listed(world.alice, "?month=2025-02") == ["INV-ACME-000002"]
    assert listed(world.alice, "?month=2025-01") == ["INV-ACME-000001"]
    assert listed(world.alice, "?state=finalized&currency=EUR") == [
        "INV-ACME-000001",
        "INV-ACME-000002",
    ]


# --- the page --------------------------------------------------------------------------------


def test_the_invoice_page_is_read_only_with_its_lines_and_a_credit_form(world: World) -> None:
    url = reverse("admin:billing_invoice_change", args=[world.acme_invoice.pk])
    page = world.alice.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert "Recurring fee" in text  # the lines inline
    assert 'name="_save"' not in text
    assert reverse("admin:billing_invoice_credit_note", args=[world.acme_invoice.pk]) in text
    assert reverse("billing_reports:revenue") in text
    assert world.alice.post(url, {"state": "paid"}).status_code == 403


def test_invoices_are_never_added_or_deleted_in_admin(world: World) -> None:
    assert world.alice.get(reverse("admin:billing_invoice_add")).status_code == 403
    delete = reverse("admin:billing_invoice_delete", args=[world.acme_invoice.pk])
    assert world.alice.get(delete).status_code == 403


# --- actions ---------------------------------------------------------------------------------


def test_mark_paid(world: World) -> None:
    response = act(world.alice, "mark_paid", world.acme_invoice)
    world.acme_invoice.refresh_from_db()
    assert world.acme_invoice.state == Invoice.State.PAID
    assert world.acme_invoice.paid_at is not None
    assert message_texts(response) == ["1 marked paid: INV-ACME-000001"]


def test_void_a_finalized_invoice_tells_the_webhooks(world: World) -> None:
    act(world.alice, "void", world.acme_invoice)
    world.acme_invoice.refresh_from_db()
    assert world.acme_invoice.state == Invoice.State.VOID
    assert WebhookEvent.objects.filter(
        type="invoice.voided", subject=f"invoice:{world.acme_invoice.pk}"
    ).exists()


def test_voiding_a_paid_invoice_is_refused_with_a_message(world: World) -> None:
    act(world.alice, "mark_paid", world.acme_invoice)
    response = act(world.alice, "void", world.acme_invoice)
    world.acme_invoice.refresh_from_db()
    assert world.acme_invoice.state == Invoice.State.PAID
    assert message_texts(response)[-1] == (
        "INV-ACME-000001: only a finalized, unpaid invoice can be voided, not a paid one"
    )


def test_one_refusal_leaves_the_other_selected_invoices_done(world: World) -> None:
    sub = world.acme_invoice.period.subscription
    assert sub is not None
    second = invoice(sub, start=datetime(2025, 2, 1, tzinfo=UTC))
    act(world.alice, "mark_paid", world.acme_invoice)
    response = act(world.alice, "mark_paid", world.acme_invoice, second)
    second.refresh_from_db()
    assert second.state == Invoice.State.PAID
    texts = message_texts(response)
    assert "INV-ACME-000001: only a finalized invoice can be paid, not a paid one" in texts
    assert "1 marked paid: INV-ACME-000002" in texts


def test_a_member_with_view_permission_only_has_no_state_actions(world: World) -> None:
    viewer = client_of(staff_user("vera", world.acme, Role.BILLING, perms=["view_invoice"]))
    act(viewer, "mark_paid", world.acme_invoice)
    world.acme_invoice.refresh_from_db()
    assert world.acme_invoice.state == Invoice.State.FINALIZED
    assert credit(viewer, world.acme_invoice, "1.00").status_code == 403


# --- credit notes ----------------------------------------------------------------------------


def test_a_credit_note_from_the_invoice_page(world: World) -> None:
    response = credit(world.alice, world.acme_invoice, "12.50", "two days of outage")
    note = CreditNote.objects.get()
    assert (note.invoice, note.number, note.amount) == (
        world.acme_invoice,
        "CN-ACME-000001",
        Decimal("12.50"),
    )
    assert note.reason == "two days of outage"
    assert message_texts(response) == ["Credit note CN-ACME-000001: 12.50 EUR given back."]
    assert "left to credit: 87.50 EUR" in response.content.decode()


def test_crediting_more_than_is_left_is_refused_with_a_message(world: World) -> None:
    credit(world.alice, world.acme_invoice, "60.00")
    response = credit(world.alice, world.acme_invoice, "40.01")
    assert CreditNote.objects.count() == 1
    assert message_texts(response)[-1] == (
        "Credit note not made: at most 40.00 EUR is left to credit on INV-ACME-000001"
    )


def test_a_credit_note_is_refused_on_a_draft_and_in_fractions_of_a_cent(world: World) -> None:
    sub = world.acme_invoice.period.subscription
    assert sub is not None
    draft = invoice(sub, start=datetime(2025, 2, 1, tzinfo=UTC), state=Invoice.State.DRAFT)
    refused = credit(world.alice, draft, "1.00")
    assert message_texts(refused) == [
        "Credit note not made: only a finalized or paid invoice can be credited, not a draft one"
    ]
    fraction = credit(world.alice, world.acme_invoice, "1.005")
    assert message_texts(fraction) == [
        "Credit note not made: amount: EUR amounts are given in its minor unit, e.g. 1.01"
    ]
    no_reason = credit(world.alice, world.acme_invoice, "1.00", reason="")
    assert message_texts(no_reason) == ["Credit note not made: reason: This field is required."]
    assert not CreditNote.objects.exists()


# --- CSV -------------------------------------------------------------------------------------


def exported(client: Client, *invoices: Invoice) -> list[dict[str, str]]:
    response: Any = act(client, "export_csv", *invoices)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="invoices-')
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_export_of_the_selected_invoices(world: World) -> None:
    credit(world.alice, world.acme_invoice, "10.00")
    act(world.alice, "mark_paid", world.acme_invoice)
    assert exported(world.alice, world.acme_invoice) == [
        {
            "number": "INV-ACME-000001",
            "issued": "2025-02-01T00:00:00+00:00",
            "partner": "Initech",
            "application": "App",
            "product": "Acme API",
            "period_start": "2025-01-01T00:00:00+00:00",
            "period_end": "2025-02-01T00:00:00+00:00",
            "state": "paid",
            "currency": "EUR",
            "units": "1000",
            "total": "100.00",
            "credited": "10.00",
        }
    ]


def test_csv_export_escapes_what_a_spreadsheet_would_run(world: World) -> None:
    partner = organization("=HYPERLINK(1)")
    sub = subscription(world.acme, partner, app_name="@SUM(A1)")
    risky = invoice(sub, total="1.00")
    BillingPeriod.objects.filter(pk=risky.period_id).update(product_name="+cmd|' /C calc'!A0")
    (row,) = exported(world.alice, risky)
    assert row["partner"] == "'=HYPERLINK(1)"
    assert row["application"] == "'@SUM(A1)"
    assert row["product"] == "'+cmd|' /C calc'!A0"
    assert row["number"] == "INV-ACME-000002"


def test_csv_export_never_reaches_another_issuers_invoice(world: World) -> None:
    rows = exported(world.alice, world.acme_invoice, world.globex_invoice)
    assert [row["number"] for row in rows] == ["INV-ACME-000001"]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
    ],
)
def test_csv_cells_that_start_a_formula_are_escaped(value: str | None, written: str) -> None:
    assert invoice_csv.cell(value) == written
