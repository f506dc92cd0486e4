"""The invoices endpoints: an organization's own invoices and running drafts, to owners and
billing members only (a developer gets 403, another organization's invoice is 404), with
lines, credit notes and totals in the currency's minor unit; filters with field errors;
pages; and the CSV of the same rows."""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from rest_framework import serializers
from rest_framework.test import APIClient

from mgmt.billing.models import BillingPeriod, CreditNote, Invoice, InvoiceLine
from mgmt.gateway.models import Organization, Role, Subscription
from tests.devapi.world import Tenant, World, member, problem, token_client

pytestmark = [pytest.mark.db]

Line = tuple[str, str, int, str, str]  # kind, description, quantity, unit amount, amount


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    """A time as the API writes it."""
    return None if moment is None else serializers.DateTimeField().to_representation(moment)


def _period(
    subscription: Subscription, index: int, start: str, end: str, units: int, *, read: str = ""
) -> Any:
    application, product = subscription.application, subscription.product
    return BillingPeriod.objects.create(
        subscription=subscription,
        subscription_ref=subscription.pk,
        index=index,
        starts_at=_at(start),
        ends_at=_at(end),
        issuer=product.organization,
        partner=application.organization,
        application_name=application.name,
        product_name=product.name,
        counter_key=f"tests:{subscription.pk}:{index}",
        units=units,
        read_at=_at(read or end),
    )


def _invoice(
    period: BillingPeriod,
    state: str,
    sequence: int | None,
    lines: list[Line],
    currency: str = "EUR",
    **more: Any,
) -> Invoice:
    issuer: Organization = period.issuer
    invoice = Invoice.objects.create(
        period=period,
        issuer=issuer,
        partner=period.partner,
        state=state,
        sequence=sequence,
        number="" if sequence is None else f"INV-{issuer.slug.upper()}-{sequence:06d}",
        currency=currency,
        units=period.units,
        total=sum((Decimal(line[4]) for line in lines), Decimal(0)),
        finalized_at=None if sequence is None else period.ends_at,
        **more,
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


FEE: Line = ("fee", "Recurring fee", 1, "10.000000", "10.000000")


@dataclass
class Billed:
    january: Invoice  # finalized, with a credit note
    february: Invoice  # paid
    march: Invoice  # void
    draft: Invoice  # the running period
    bobs: Invoice


@pytest.fixture
def billed(world: World) -> Billed:
    alice, bob = world.alice.subscription, world.bob.subscription
    january = _invoice(
        _period(alice, 0, "2025-01-10", "2025-02-10", 2500),
        Invoice.State.FINALIZED,
        1,
        [
            FEE,
            ("included", "Included units (1,000 of 1,000)", 1000, "0", "0"),
            ("units", "1,500 units at 0.0015 EUR", 1500, "0.001500", "2.250000"),
        ],
    )
    CreditNote.objects.create(
        invoice=january,
        sequence=1,
        number=f"CN-{january.issuer.slug.upper()}-000001",
        amount=Decimal("2.000000"),
        reason="Outage on 3 January",
    )
    february = _invoice(
        _period(alice, 1, "2025-02-10", "2025-03-10", 0),
        Invoice.State.PAID,
        3,
        [FEE],
        paid_at=_at("2025-03-20"),
    )
    march = _invoice(
        _period(alice, 2, "2025-03-10", "2025-04-10", 0),
        Invoice.State.VOID,
        4,
        [FEE],
        voided_at=_at("2025-04-12"),
    )
    draft = _invoice(
        _period(alice, 3, "2025-04-10", "2025-05-10", 1420, read="2025-04-20T08:30:00"),
        Invoice.State.DRAFT,
        None,
        [FEE, ("units", "420 units at 0.0015 EUR", 420, "0.001500", "0.630000")],
    )
    bobs = _invoice(
        _period(bob, 0, "2025-01-05", "2025-02-05", 7),
        Invoice.State.FINALIZED,
        2,
        [("fee", "Recurring fee", 1, "99.000000", "99.000000")],
    )
    return Billed(january, february, march, draft, bobs)


def _list(t: Tenant, client: APIClient | None = None, **query: Any) -> Any:
    return (client or t.client).get(f"/api/v1/orgs/{t.org}/invoices", query)


def _numbers(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["number"] or f"draft {row['id']}" for row in response.json()["results"]]


def _billing_client(t: Tenant) -> APIClient:
    user, _ = member(t.organization, f"{t.org}-billing@example.com", Role.BILLING)
    return token_client(user)


def test_an_owner_lists_the_running_draft_and_the_invoices_newest_period_first(
    world: World, billed: Billed
):
    response = _list(world.alice)
    assert _numbers(response) == [
        f"draft {billed.draft.pk}",
        billed.march.number,
        billed.february.number,
        billed.january.number,
    ]
    body = response.json()
    assert body["count"] == 4 and body["next"] is None
    draft, march, _, january = body["results"]
    assert (draft["state"], draft["units"], draft["total"]) == ("draft", 1420, "10.63")
    assert (march["state"], march["total"], march["balance"]) == ("void", "10.00", "0.00")
    assert (january["total"], january["credited"], january["balance"]) == (
        "12.25",
        "2.00",
        "10.25",
    )
    assert "lines" not in january  # the list is a summary: the lines are the invoice's


def test_a_billing_member_sees_the_invoices_too(world: World, billed: Billed):
    billing = _billing_client(world.alice)
    assert len(_numbers(_list(world.alice, billing))) == 4
    number = billed.january.number
    one = billing.get(f"/api/v1/orgs/{world.alice.org}/invoices/{number}")
    assert one.status_code == 200 and one.json()["number"] == number
    assert billing.get(f"/api/v1/orgs/{world.alice.org}/invoices.csv").status_code == 200


def test_a_developer_is_refused_every_invoice_endpoint_with_a_403_problem(
    world: World, billed: Billed
):
    developer = token_client(world.alice.teammate.user)
    org = f"/api/v1/orgs/{world.alice.org}"
    for path in [
        f"{org}/invoices",
        f"{org}/invoices/{billed.january.number}",
        f"{org}/invoices/{billed.draft.pk}",
        f"{org}/invoices.csv",
    ]:
        response = developer.get(path, HTTP_ACCEPT="text/csv" if path.endswith("csv") else "*/*")
        assert response.status_code == 403, (path, response.content)
        body = problem(response)
        assert body["type"].endswith("/forbidden")
        assert "owners and billing members" in body["detail"]
        assert "12.25" not in response.content.decode()  # nothing of the invoice itself


def test_another_organizations_invoices_are_404_and_lists_hold_only_ones_own(
    world: World, billed: Billed
):
    alice, bob = world.alice, world.bob
    crossings = [
        f"/api/v1/orgs/{bob.org}/invoices",
        f"/api/v1/orgs/{bob.org}/invoices.csv",
        f"/api/v1/orgs/{bob.org}/invoices/{billed.bobs.number}",
        # Bob's invoice under alice's own organization, by number and by id.
        f"/api/v1/orgs/{alice.org}/invoices/{billed.bobs.number}",
        f"/api/v1/orgs/{alice.org}/invoices/{billed.bobs.pk}",
    ]
    for path in crossings:
        response = alice.client.get(path)
        assert response.status_code == 404, (path, response.content)
        assert problem(response)["type"].endswith("/not-found")
        assert "99.00" not in response.content.decode()
    assert _numbers(_list(bob)) == [billed.bobs.number]
    csv_text = alice.client.get(f"/api/v1/orgs/{alice.org}/invoices.csv").content.decode()
    assert billed.bobs.number not in csv_text


def test_an_invoice_has_its_parties_period_lines_credit_notes_and_totals(
    world: World, billed: Billed
):
    january = billed.january
    issuer = january.issuer
    response = world.alice.client.get(f"/api/v1/orgs/{world.alice.org}/invoices/{january.number}")
    assert response.status_code == 200, response.content
    note = january.credit_notes.get()
    assert response.json() == {
        "id": january.pk,
        "number": january.number,
        "state": "finalized",
        "issuer": {"slug": issuer.slug, "name": issuer.name},
        "partner": {"slug": world.alice.org, "name": world.alice.organization.name},
        "application": world.alice.application.name,
        "product": world.alice.subscription.product.name,
        "period_start": "2025-01-10T00:00:00Z",
        "period_end": "2025-02-10T00:00:00Z",
        "currency": "EUR",
        "units": 2500,
        "total": "12.25",
        "credited": "2.00",
        "balance": "10.25",
        "finalized_at": "2025-02-10T00:00:00Z",
        "paid_at": None,
        "voided_at": None,
        "updated_at": _iso(january.updated_at),
        "units_read_at": "2025-02-10T00:00:00Z",
        "lines": [
            {
                "position": 1,
                "kind": "fee",
                "description": "Recurring fee",
                "quantity": 1,
                "unit_amount": "10.00",
                "amount": "10.00",
            },
            {
                "position": 2,
                "kind": "included",
                "description": "Included units (1,000 of 1,000)",
                "quantity": 1000,
                "unit_amount": "0.00",
                "amount": "0.00",
            },
            {
                "position": 3,
                "kind": "units",
                "description": "1,500 units at 0.0015 EUR",
                "quantity": 1500,
                "unit_amount": "0.0015",  # a unit price keeps its finer digits
                "amount": "2.25",
            },
        ],
        "credit_notes": [
            {
                "number": note.number,
                "amount": "2.00",
                "reason": "Outage on 3 January",
                "created_at": _iso(note.created_at),
            }
        ],
    }


def test_a_running_draft_is_found_by_id_with_its_units_so_far(world: World, billed: Billed):
    draft = billed.draft
    response = world.alice.client.get(f"/api/v1/orgs/{world.alice.org}/invoices/{draft.pk}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["number"], body["state"]) == (draft.pk, "", "draft")
    assert (body["units"], body["units_read_at"]) == (1420, "2025-04-20T08:30:00Z")
    assert [line["amount"] for line in body["lines"]] == ["10.00", "0.63"]
    assert (body["total"], body["finalized_at"]) == ("10.63", None)


def test_a_finalized_invoice_is_found_by_id_too(world: World, billed: Billed):
    path = f"/api/v1/orgs/{world.alice.org}/invoices/{billed.february.pk}"
    body = world.alice.client.get(path).json()
    assert (body["number"], body["state"], body["paid_at"]) == (
        billed.february.number,
        "paid",
        "2025-03-20T00:00:00Z",
    )


def test_amounts_carry_the_currencys_own_decimals(world: World):
    yen = _invoice(
        _period(world.alice.subscription, 7, "2026-01-01", "2026-02-01", 3),
        Invoice.State.FINALIZED,
        9,
        [("units", "3 units at 1.5 JPY", 3, "1.500000", "5.000000")],
        currency="JPY",
    )
    body = world.alice.client.get(f"/api/v1/orgs/{world.alice.org}/invoices/{yen.number}").json()
    assert (body["total"], body["balance"]) == ("5", "5")
    assert (body["lines"][0]["unit_amount"], body["lines"][0]["amount"]) == ("1.5", "5")


def test_unknown_references_are_404_problems(world: World, billed: Billed):
    org = f"/api/v1/orgs/{world.alice.org}/invoices"
    for reference in ["INV-NOPE-000001", "0", "9" * 30, str(billed.draft.pk + 1000)]:
        response = world.alice.client.get(f"{org}/{reference}")
        assert response.status_code == 404, (reference, response.content)
        problem(response)


def test_the_list_filters_by_state_and_by_the_day_the_period_starts(world: World, billed: Billed):
    alice = world.alice
    assert _numbers(_list(alice, state="draft")) == [f"draft {billed.draft.pk}"]
    assert _numbers(_list(alice, state="paid")) == [billed.february.number]
    # from and to are both included, compared with the period's UTC start day.
    window = _list(alice, **{"from": "2025-02-10", "to": "2025-03-10"})
    assert _numbers(window) == [billed.march.number, billed.february.number]
    assert _numbers(_list(alice, **{"to": "2025-01-10"})) == [billed.january.number]
    assert _numbers(_list(alice, state="void", **{"from": "2025-04-01"})) == []
    assert _numbers(_list(alice, **{"from": "9999-12-31", "to": "9999-12-31"})) == []


def test_bad_filter_values_are_400_problems_with_field_errors(world: World, billed: Billed):
    cases = [
        ({"state": "overdue"}, "state"),
        ({"from": "2025-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2025-03-01", "to": "2025-02-01"}, "to"),
    ]
    for path in ("invoices", "invoices.csv"):
        for query, field in cases:
            response = world.alice.client.get(f"/api/v1/orgs/{world.alice.org}/{path}", query)
            assert response.status_code == 400, (path, query, response.content)
            body = problem(response)
            assert body["type"].endswith("/invalid-input")
            assert list(body["errors"]) == [field], body


def test_the_list_comes_in_pages(world: World, billed: Billed):
    first = _list(world.alice, limit=3).json()
    rest = _list(world.alice, limit=3, offset=3).json()
    assert first["count"] == 4 and "offset=3" in first["next"] and first["previous"] is None
    assert [r["id"] for r in first["results"] + rest["results"]] == [
        billed.draft.pk,
        billed.march.pk,
        billed.february.pk,
        billed.january.pk,
    ]


def test_the_csv_has_a_row_per_invoice_for_the_same_filters(world: World, billed: Billed):
    alice = world.alice
    response = alice.client.get(f"/api/v1/orgs/{alice.org}/invoices.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="invoices-{alice.org}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["number"] for row in rows] == [
        "",
        billed.march.number,
        billed.february.number,
        billed.january.number,
    ]
    assert rows[3] == {
        "id": str(billed.january.pk),
        "number": billed.january.number,
        "state": "finalized",
        "issuer": billed.january.issuer.name,
        "partner": alice.organization.name,
        "application": alice.application.name,
        "product": alice.subscription.product.name,
        "period_start": "2025-01-10T00:00:00Z",
        "period_end": "2025-02-10T00:00:00Z",
        "currency": "EUR",
        "units": "2500",
        "total": "12.25",
        "credited": "2.00",
        "balance": "10.25",
        "finalized_at": "2025-02-10T00:00:00Z",
        "paid_at": "",
        "voided_at": "",
    }
    # No pages, and the list's filters.
    paid = alice.client.get(f"/api/v1/orgs/{alice.org}/invoices.csv", {"state": "paid"})
    assert [r["number"] for r in csv.DictReader(io.StringIO(paid.content.decode()))] == [
        billed.february.number
    ]


def test_the_csv_answers_a_client_that_asks_for_text_csv(world: World, billed: Billed):
    path = f"/api/v1/orgs/{world.alice.org}/invoices.csv"
    response = world.alice.client.get(path, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response.content.decode().startswith("id,number,state,")


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_quoted_in_the_csv(
    world: World, billed: Billed
):
    BillingPeriod.objects.filter(pk=billed.january.period_id).update(
        application_name='=HYPERLINK("http://evil")'
    )
    text = world.alice.client.get(f"/api/v1/orgs/{world.alice.org}/invoices.csv").content
    rows = list(csv.DictReader(io.StringIO(text.decode())))
    assert rows[3]["application"] == '\'=HYPERLINK("http://evil")'


def test_without_credentials_the_invoices_are_401(world: World, billed: Billed):
    anonymous = APIClient()
    org = f"/api/v1/orgs/{world.alice.org}"
    for path in [f"{org}/invoices", f"{org}/invoices.csv", f"{org}/invoices/{billed.draft.pk}"]:
        response = anonymous.get(path)
        assert response.status_code == 401, path
        problem(response)


def test_the_schema_documents_the_invoice_endpoints(world: World):
    schema = APIClient().get("/api/v1/schema", {"format": "json"}).json()
    paths = schema["paths"]
    listed = paths["/api/v1/orgs/{org}/invoices"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {"state", "from", "to"}
    assert "PaginatedInvoiceSummaryOutputList" in str(listed["responses"]["200"])
    assert "403" in listed["responses"]
    one = paths["/api/v1/orgs/{org}/invoices/{invoice}"]["get"]
    assert "application/problem+json" in one["responses"]["404"]["content"]
    as_csv = paths["/api/v1/orgs/{org}/invoices.csv"]["get"]
    assert list(as_csv["responses"]["200"]["content"]) == ["text/csv"]
