"""What a partner sees of one invoice or running draft, the same in the developer API, the
portal's invoice page and its printable page: parties, period, lines, totals and credit
notes, amounts in the currency's minor unit (the reads are in mgmt.billing.selectors)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from mgmt.billing.currencies import MINOR_UNITS, quantize
from mgmt.billing.models import CreditNote, Invoice, InvoiceLine

# --- the display model: pure, from rows already fetched ----------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class LineView:
    position: int
    kind: str
    description: str
    quantity: int
    unit_amount: Decimal
    amount: Decimal
    currency: str

    @property
    def unit_amount_text(self) -> str:
        return money(self.unit_amount, self.currency)

    @property
    def amount_text(self) -> str:
        return money(self.amount, self.currency)


@dataclass(frozen=True, slots=True)
class CreditNoteView:
    number: str
    amount: Decimal
    reason: str
    created_at: datetime
    currency: str

    @property
    def amount_text(self) -> str:
        return money(self.amount, self.currency)


@dataclass(frozen=True, slots=True)
class InvoiceView:
    id: int
    number: str
    state: str
    issuer: Party
    partner: Party
    application_name: str
    product_name: str
    period_start: datetime
    period_end: datetime
    currency: str
    units: int
    units_read_at: datetime | None
    lines: tuple[LineView, ...]
    total: Decimal
    credit_notes: tuple[CreditNoteView, ...]
    credited: Decimal
    balance: Decimal
    created_at: datetime
    updated_at: datetime
    finalized_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None

    @property
    def running(self) -> bool:
        """A draft of a period still running: its lines change as calls are counted."""
        return self.state == Invoice.State.DRAFT

    @property
    def reference(self) -> str:
        """What its URLs name it by: the number, or the id while it is a draft."""
        return self.number or str(self.id)

    @property
    def title(self) -> str:
        return f"Invoice {self.number}" if self.number else f"Running draft {self.id}"

    @property
    def total_text(self) -> str:
        return money(self.total, self.currency)

    @property
    def credited_text(self) -> str:
        return money(self.credited, self.currency)

    @property
    def balance_text(self) -> str:
        return money(self.balance, self.currency)


def _places(currency: str) -> int | None:
    return MINOR_UNITS.get(currency)


def amount_of(value: Decimal, currency: str) -> Decimal:
    """A stored amount (6 places) in the currency's minor unit: 12.500000 EUR -> 12.50.
    Lines are rounded when they are made, so for them this only drops zeros."""
    if _places(currency) is None:  # no price yet, so no currency: keep what is stored
        return value.normalize()
    return quantize(value, currency)


def unit_amount_of(value: Decimal, currency: str) -> Decimal:
    """A unit price keeps its finer digits (0.001500 EUR -> 0.0015) but shows at least
    the minor unit (5.000000 EUR -> 5.00)."""
    places = _places(currency)
    trimmed = value.normalize()
    exponent = trimmed.as_tuple().exponent
    assert isinstance(exponent, int)  # stored amounts are finite
    if places is not None and -exponent < places:
        return quantize(value, currency)
    return trimmed if exponent <= 0 else value.quantize(Decimal(1))


def money(amount: Decimal, currency: str) -> str:
    """1234.5 EUR -> '1,234.50 EUR': thousands separated, the digits `amount` carries."""
    return f"{amount:,f} {currency}".strip()


def invoice_view(
    invoice: Invoice, lines: Iterable[InvoiceLine], credit_notes: Iterable[CreditNote]
) -> InvoiceView:
    """The display model of `invoice`, whose period, issuer and partner are already
    fetched (partner_invoices does). A void invoice bills nothing: its balance is zero."""
    code = invoice.currency
    period = invoice.period
    notes = tuple(
        CreditNoteView(n.number, amount_of(n.amount, code), n.reason, n.created_at, code)
        for n in sorted(credit_notes, key=lambda n: n.sequence)
    )
    total = amount_of(invoice.total, code)
    credited = amount_of(sum((n.amount for n in notes), Decimal(0)), code)
    void = invoice.state == Invoice.State.VOID
    return InvoiceView(
        id=invoice.pk,
        number=invoice.number,
        state=invoice.state,
        issuer=Party(invoice.issuer.slug, invoice.issuer.name),
        partner=Party(invoice.partner.slug, invoice.partner.name),
        application_name=period.application_name,
        product_name=period.product_name,
        period_start=period.starts_at,
        period_end=period.ends_at,
        currency=code,
        units=invoice.units,
        units_read_at=period.read_at,
        lines=tuple(
            LineView(
                position=line.position,
                kind=line.kind,
                description=line.description,
                quantity=line.quantity,
                unit_amount=unit_amount_of(line.unit_amount, code),
                amount=amount_of(line.amount, code),
                currency=code,
            )
            for line in sorted(lines, key=lambda line: line.position)
        ),
        total=total,
        credit_notes=notes,
        credited=credited,
        balance=amount_of(Decimal(0), code) if void else amount_of(total - credited, code),
        created_at=invoice.created_at,
        updated_at=invoice.updated_at,
        finalized_at=invoice.finalized_at,
        paid_at=invoice.paid_at,
        voided_at=invoice.voided_at,
    )


def view_of(invoice: Invoice) -> InvoiceView:
    """invoice_view with the lines and credit notes partner_invoices prefetched."""
    return invoice_view(invoice, invoice.lines.all(), invoice.credit_notes.all())
