"""Invoices as CSV for an API owner's books, streamed: rows are written as the database
hands them over, so a large export holds no list of invoices in memory.

A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return) as a
formula; partner and application names are typed by partners, so every such value is
written with a leading apostrophe (OWASP's advice on CSV injection).
"""

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse

from mgmt.billing.currencies import is_currency, quantize
from mgmt.billing.models import CreditNote, Invoice

COLUMNS: Final = (
    "number",
    "issued",
    "partner",
    "application",
    "product",
    "period_start",
    "period_end",
    "state",
    "currency",
    "units",
    "total",
    "credited",
)
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
CHUNK: Final = 500


class _Echo:
    """A file that hands back what is written to it, for csv.writer to format one row."""

    def write(self, text: str) -> str:
        return text


# --- pure ------------------------------------------------------------------------------------


def cell(value: object) -> str:
    """A value as CSV text that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def amount(value: Decimal, currency: str) -> str:
    """In the currency's minor unit (12.30 EUR, 5 JPY); as stored for a draft's blank one."""
    return str(quantize(value, currency)) if is_currency(currency) else str(value.normalize())


def moment(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def lines(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The header, then one CSV line per row, each value escaped."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


# --- adapters --------------------------------------------------------------------------------


def rows(invoices: QuerySet[Invoice]) -> Iterator[tuple[str, ...]]:
    """One tuple per invoice in COLUMNS order, read in chunks."""
    credited = (
        CreditNote.objects.filter(invoice=OuterRef("pk"))
        .values("invoice")
        .annotate(sum=Sum("amount"))
        .values("sum")
    )
    values = invoices.annotate(
        credited=Coalesce(
            Subquery(credited),
            Value(Decimal(0)),
            output_field=DecimalField(max_digits=24, decimal_places=6),  # models.MONEY
        )
    ).values_list(
        "number",
        "finalized_at",
        "partner__name",
        "period__application_name",
        "period__product_name",
        "period__starts_at",
        "period__ends_at",
        "state",
        "currency",
        "units",
        "total",
        "credited",
    )
    for (
        number,
        issued,
        partner,
        app,
        product,
        start,
        end,
        state,
        code,
        units,
        total,
        credit,
    ) in values.iterator(chunk_size=CHUNK):
        yield (
            number,
            moment(issued),
            partner,
            app,
            product,
            moment(start),
            moment(end),
            state,
            code,
            str(units),
            amount(total, code),
            amount(credit, code),
        )


def response(invoices: QuerySet[Invoice], filename: str) -> StreamingHttpResponse:
    answer = StreamingHttpResponse(lines(rows(invoices)), content_type="text/csv; charset=utf-8")
    answer["Content-Disposition"] = f'attachment; filename="{filename}"'
    answer["Cache-Control"] = "no-store"
    return answer
