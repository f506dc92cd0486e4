"""The invoices pages through Django's test client: an organization's running drafts and
invoices, each one's printable page (parties, number, period, lines, totals, credit notes;
a watermark on a draft), for owners and billing members only, and nothing of another
organization's."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from mgmt.billing.models import BillingPeriod, CreditNote, Invoice, InvoiceLine
from mgmt.gateway.models import Subscription
from tests.portal.conftest import Tenant, signed_in

pytestmark = [pytest.mark.db, pytest.mark.django_db]

Line = tuple[str, str, int, str, str]  # kind, description, quantity, unit amount, amount
WATERMARK = "DRAFT — running"


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def bill(
    subscription: Subscription,
    index: int,
    start: str,
    end: str,
    *,
    state: str,
    sequence: int | None,
    units: int,
    lines: list[Line],
) -> Invoice:
    """A billing period of `subscription` and its invoice (a draft when `sequence` is None),
    as the lead's meter fold and close job leave them."""
    application, product = subscription.application, subscription.product
    issuer = product.organization
    period = BillingPeriod.objects.create(
        subscription=subscription,
        subscription_ref=subscription.pk,
        index=index,
        starts_at=_at(start),
        ends_at=_at(end),
        issuer=issuer,
        partner=application.organization,
        application_name=application.name,
        product_name=product.name,
        counter_key=f"tests:{subscription.pk}:{index}",
        units=units,
        read_at=_at(end),
    )
    invoice = Invoice.objects.create(
        period=period,
        issuer=issuer,
        partner=period.partner,
        state=state,
        sequence=sequence,
        number="" if sequence is None else f"INV-{issuer.slug.upper()}-{sequence:06d}",
        currency="EUR",
        units=units,
        total=sum((Decimal(line[4]) for line in lines), Decimal(0)),
        finalized_at=None if sequence is None else period.ends_at,
    )
    for position, (kind, text, quantity, unit, amount) in enumerate(lines, start=1):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            kind=kind,
            description=text,
            quantity=quantity,
            unit_amount=Decimal(unit),
            amount=Decimal(amount),
        )
    return invoice


@dataclass
class Billed:
    finalized: Invoice
    draft: Invoice
    bobs: Invoice


def bill_alice_and_bob(alice: Tenant, bob: Tenant) -> Billed:
    """Alice: January finalized (1,234.50 EUR, 34.50 credited) and February running; Bob:
    January finalized."""
    finalized = bill(
        alice.subscription,
        0,
        "2025-01-10",
        "2025-02-10",
        state=Invoice.State.FINALIZED,
        sequence=1,
        units=1_200_000,
        lines=[
            ("fee", "Recurring fee", 1, "1000.000000", "1000.000000"),
            ("units", "156,400 units at 0.0015 EUR", 156_400, "0.001500", "234.600000"),
            ("discount", "Goodwill", 1, "-0.100000", "-0.100000"),
        ],
    )
    CreditNote.objects.create(
        invoice=finalized,
        sequence=1,
        number="CN-ACME-000001",
        amount=Decimal("34.500000"),
        reason="Outage on 3 January",
    )
    draft = bill(
        alice.subscription,
        1,
        "2025-02-10",
        "2025-03-10",
        state=Invoice.State.DRAFT,
        sequence=None,
        units=4_321,
        lines=[("fee", "Recurring fee", 1, "1000.000000", "1000.000000")],
    )
    bobs = bill(
        bob.subscription,
        0,
        "2025-01-05",
        "2025-02-05",
        state=Invoice.State.FINALIZED,
        sequence=2,
        units=7,
        lines=[("fee", "Recurring fee", 1, "99.000000", "99.000000")],
    )
    return Billed(finalized, draft, bobs)


@pytest.fixture
def billed(alice: Tenant, bob: Tenant) -> Billed:
    return bill_alice_and_bob(alice, bob)


def _invoices_url(tenant: Tenant) -> str:
    return reverse("portal:invoices", kwargs={"org": tenant.organization.slug})


def _invoice_url(tenant: Tenant, reference: object) -> str:
    return reverse(
        "portal:invoice", kwargs={"org": tenant.organization.slug, "reference": reference}
    )


def _text_of(html: str, element_id: str) -> str:
    """The text of the element with that id, its tags dropped and spaces collapsed."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:dd|td|p|h1)>', html, re.S)
    assert found is not None, f"no #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def _page(user: User, url: str) -> Any:
    response = signed_in(user).get(url)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def test_an_owner_sees_the_running_draft_and_the_invoices(alice: Tenant, billed: Billed):
    html = _page(alice.owner, _invoices_url(alice))
    running, issued = html.split('id="issued-heading"')
    assert "4,321" in running and "1,000.00 EUR" in running  # units and total so far
    assert f'href="{_invoice_url(alice, billed.draft.pk)}"' in running
    assert f'href="{_invoice_url(alice, billed.finalized.number)}"' in issued
    assert "INV-ACME-000001" in issued and "Finalized" in issued
    assert "1,234.50 EUR" in issued and "1,200.00 EUR" in issued  # total, balance
    assert billed.bobs.number not in html and "99.00" not in html


def test_a_billing_member_sees_both_pages(alice: Tenant, carol: User, billed: Billed):
    assert "INV-ACME-000001" in _page(carol, _invoices_url(alice))
    html = _page(carol, _invoice_url(alice, billed.finalized.number))
    assert _text_of(html, "invoice-total") == "1,234.50 EUR"


def test_a_developer_is_refused_both_pages(alice: Tenant, dan: User, billed: Billed):
    client = signed_in(dan)
    for url in [
        _invoices_url(alice),
        _invoice_url(alice, billed.finalized.number),
        _invoice_url(alice, billed.draft.pk),
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        html = response.content.decode()
        assert "Not allowed" in html and "owners and billing members" in html
        assert "1,234.50" not in html


def test_the_dashboard_links_the_invoices_for_owners_and_billing_members_only(
    alice: Tenant, carol: User, dan: User
):
    link = f'href="{_invoices_url(alice)}"'
    assert link in _page(alice.owner, reverse("portal:dashboard"))
    assert link in _page(carol, reverse("portal:dashboard"))
    assert link not in _page(dan, reverse("portal:dashboard"))


def test_another_organizations_invoices_are_not_found(alice: Tenant, bob: Tenant, billed: Billed):
    client = signed_in(alice.owner)
    for url in [
        _invoices_url(bob),
        _invoice_url(bob, billed.bobs.number),
        _invoice_url(alice, billed.bobs.number),  # bob's, under alice's organization
        _invoice_url(alice, billed.bobs.pk),
        _invoice_url(alice, "INV-ACME-999999"),
        _invoice_url(alice, "9" * 30),
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "99.00" not in response.content.decode()


def test_the_printable_page_has_parties_number_period_lines_totals_and_credit_notes(
    alice: Tenant, billed: Billed
):
    html = _page(alice.owner, _invoice_url(alice, billed.finalized.number))
    assert _text_of(html, "invoice-title") == "Invoice INV-ACME-000001"
    assert _text_of(html, "invoice-issuer") == "Acme APIs"
    assert _text_of(html, "invoice-partner") == "Alice Corp"
    assert _text_of(html, "invoice-number") == "INV-ACME-000001"
    assert _text_of(html, "invoice-period") == "2025-01-10 00:00 UTC to 2025-02-10 00:00 UTC"
    assert _text_of(html, "invoice-units") == "1,200,000"
    assert "156,400 units at 0.0015 EUR" in html and "0.0015 EUR" in html
    assert "234.60 EUR" in html and "-0.10 EUR" in html
    assert _text_of(html, "invoice-total") == "1,234.50 EUR"
    assert "CN-ACME-000001" in html and "Outage on 3 January" in html
    assert _text_of(html, "invoice-credited") == "\N{MINUS SIGN}34.50 EUR"
    assert _text_of(html, "invoice-balance") == "1,200.00 EUR"
    assert "@media print" in html and "<script" not in html
    assert WATERMARK not in html


def test_a_running_drafts_printable_page_carries_the_watermark(alice: Tenant, billed: Billed):
    html = _page(alice.owner, _invoice_url(alice, billed.draft.pk))
    assert WATERMARK in html
    assert _text_of(html, "invoice-title") == f"Running draft {billed.draft.pk}"
    assert _text_of(html, "invoice-number") == "none yet (draft)"
    assert _text_of(html, "invoice-units").startswith("4,321 so far")
    assert _text_of(html, "invoice-total") == "1,000.00 EUR"


def test_a_void_invoice_says_so(alice: Tenant, billed: Billed):
    Invoice.objects.filter(pk=billed.finalized.pk).update(
        state=Invoice.State.VOID, voided_at=_at("2025-02-20")
    )
    html = _page(alice.owner, _invoice_url(alice, billed.finalized.number))
    assert "this invoice bills nothing" in html
    assert _text_of(html, "invoice-balance") == "0.00 EUR"


def test_the_pages_only_answer_reads(alice: Tenant, billed: Billed):
    client = signed_in(alice.owner)
    for url in [_invoices_url(alice), _invoice_url(alice, billed.finalized.number)]:
        assert client.post(url).status_code == 405, url


def test_signed_out_the_pages_send_to_the_log_in(alice: Tenant, billed: Billed):
    response = Client().get(_invoices_url(alice))
    assert response.status_code == 302 and "/login" in response["Location"]
