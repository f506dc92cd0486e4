"""/orgs/{org}/invoices: the invoices the organization receives from API owners, running
drafts included, in pages, one at a time, or all as CSV. Owners and billing members only
(mgmt.billing.invoice_view); another organization's invoice is not found."""

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from mgmt.billing.invoice_csv import cell
from mgmt.billing.invoice_view import InvoiceView, view_of
from mgmt.billing.models import Invoice
from mgmt.billing.selectors import billing_membership, partner_invoice, partner_invoices
from mgmt.devapi.pagination import Pagination
from mgmt.devapi.serializers import billing as s
from mgmt.devapi.views.common import OrgScopedView, documented, output, user_of

_WHO = "Owners and billing members only; other roles get 403."
_REFERENCE = OpenApiParameter(
    "invoice",
    str,
    OpenApiParameter.PATH,
    description="Its number (INV-ACME-000001), or its id (a draft has no number yet).",
)
CSV_COLUMNS = (
    "id",
    "number",
    "state",
    "issuer",
    "partner",
    "application",
    "product",
    "period_start",
    "period_end",
    "currency",
    "units",
    "total",
    "credited",
    "balance",
    "finalized_at",
    "paid_at",
    "voided_at",
)


def _chosen(request: Request, organization_id: int) -> QuerySet[Invoice]:
    """The organization's invoices the query asks for; a ValidationError (400 with
    `state`, `from` or `to` errors) for a bad query."""
    query = s.InvoiceQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    wanted = query.validated_data
    rows = partner_invoices(organization_id)
    if state := wanted.get("state"):
        rows = rows.filter(state=state)
    # Days are UTC (TIME_ZONE): __date compares the start's UTC day, and never adds a
    # day to 9999-12-31.
    if (start := wanted.get("from")) is not None:
        rows = rows.filter(period__starts_at__date__gte=start)
    if (end := wanted.get("to")) is not None:
        rows = rows.filter(period__starts_at__date__lte=end)
    return rows


class InvoiceListView(OrgScopedView):
    @documented(
        "Invoices",
        "The invoices your organization receives, newest period first, in pages: the "
        "running drafts (state `draft`, their units and lines so far) and the finalized, "
        f"paid and void ones. {_WHO}",
        parameters=[s.InvoiceQuery],
        responses=s.InvoiceSummaryOutput(many=True),
    )
    def get(self, request: Request, org: str) -> Response:
        membership = billing_membership(user_of(request), org)
        rows = _chosen(request, membership.organization_id)
        paginator = Pagination()
        chosen = paginator.paginate_queryset(rows, request, view=self) or []
        views = [view_of(invoice) for invoice in chosen]
        return paginator.get_paginated_response(s.InvoiceSummaryOutput(views, many=True).data)


class InvoiceDetailView(OrgScopedView):
    @documented(
        "An invoice",
        "One invoice or running draft with its lines, totals and credit notes. The lines "
        f"add up to the total; a draft's lines change as calls are counted. {_WHO}",
        parameters=[_REFERENCE],
        responses=s.InvoiceOutput,
    )
    def get(self, request: Request, org: str, invoice: str) -> Response:
        membership = billing_membership(user_of(request), org)
        found = partner_invoice(membership.organization_id, invoice)
        return output(s.InvoiceOutput, view_of(found))


class CsvRenderer(BaseRenderer):
    """Lets a client ask for text/csv; the view writes the CSV itself, so only a refusal
    (a problem, sent as application/problem+json) comes through here."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def csv_text(views: Iterable[InvoiceView]) -> str:
    """One row per invoice under a header row; amounts in the currency's minor unit. Names
    are typed by people: `cell` keeps a spreadsheet from running one as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for v in views:
        writer.writerow(
            [
                v.id,
                v.number,
                v.state,
                cell(v.issuer.name),
                cell(v.partner.name),
                cell(v.application_name),
                cell(v.product_name),
                _when(v.period_start),
                _when(v.period_end),
                v.currency,
                v.units,
                f"{v.total:f}",
                f"{v.credited:f}",
                f"{v.balance:f}",
                _when(v.finalized_at),
                _when(v.paid_at),
                _when(v.voided_at),
            ]
        )
    return out.getvalue()


class InvoiceCsvView(OrgScopedView):
    renderer_classes = [CsvRenderer]

    @documented(
        "Invoices as CSV",
        "Every invoice the list would give for the same filters, in one CSV file (no "
        f"pages), one row per invoice: {', '.join(CSV_COLUMNS)}. Times are UTC (ISO 8601); "
        f"amounts are in the currency's minor unit. {_WHO}",
        parameters=[s.InvoiceQuery],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="A header row, then one row per invoice."
            )
        },
    )
    def get(self, request: Request, org: str) -> HttpResponse:
        membership = billing_membership(user_of(request), org)
        rows = _chosen(request, membership.organization_id)
        body = csv_text(view_of(invoice) for invoice in rows)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        slug = membership.organization.slug  # a slug: nothing in it to escape
        response["Content-Disposition"] = f'attachment; filename="invoices-{slug}.csv"'
        return response
