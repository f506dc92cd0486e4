"""Invoice and credit-note numbers, and the state changes of a finalized invoice.

Numbers are per issuing organization and kind, without gaps: the next value is taken under
a row lock in the caller's transaction, so a rolled-back finalization gives it back and two
finalizations at once are serialized. Call these inside `transaction.atomic()`.
"""

from decimal import Decimal
from typing import Final

from django.db import transaction
from django.utils import timezone

from mgmt.billing.currencies import quantize
from mgmt.billing.events import emit
from mgmt.billing.models import CreditNote, DocumentSequence, Invoice
from mgmt.gateway.models import Organization

INVOICE: Final = "invoice"
CREDIT_NOTE: Final = "credit_note"
_PREFIX: Final = {INVOICE: "INV", CREDIT_NOTE: "CN"}


class DocumentError(ValueError):
    """A change an invoice's state does not allow, with a message for the person asking."""


def take_number(issuer: Organization, kind: str) -> tuple[int, str]:
    """The issuer's next number of `kind` (1, 2, ...) and how it is printed."""
    assert transaction.get_connection().in_atomic_block, "numbers are taken in a transaction"
    sequence, _ = DocumentSequence.objects.select_for_update().get_or_create(
        issuer=issuer, kind=kind
    )
    value = sequence.next_value
    sequence.next_value = value + 1
    sequence.save(update_fields=["next_value"])
    return value, f"{_PREFIX[kind]}-{issuer.slug.upper()}-{value:06d}"


def credited(invoice: Invoice) -> Decimal:
    return sum((note.amount for note in invoice.credit_notes.all()), Decimal(0))


@transaction.atomic
def create_credit_note(invoice: Invoice, amount: Decimal, reason: str) -> CreditNote:
    """Give back `amount` of a finalized or paid invoice; never more than is left of it."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.state not in (Invoice.State.FINALIZED, Invoice.State.PAID):
        raise DocumentError(
            f"only a finalized or paid invoice can be credited, not a {invoice.state} one"
        )
    if amount <= 0:
        raise DocumentError("a credit note gives back a positive amount")
    left = invoice.total - credited(invoice)
    if amount > left:
        raise DocumentError(
            f"at most {quantize(left, invoice.currency)} {invoice.currency} is left to credit "
            f"on {invoice.number}"
        )
    if not reason.strip():
        raise DocumentError("a credit note says why")
    sequence, number = take_number(invoice.issuer, CREDIT_NOTE)
    note = CreditNote.objects.create(
        invoice=invoice, sequence=sequence, number=number, amount=amount, reason=reason.strip()
    )
    emit(
        invoice.issuer,
        "credit_note.created",
        f"credit_note:{note.pk}",
        {
            "credit_note": number,
            "invoice": invoice.number,
            "amount": str(amount),
            "currency": invoice.currency,
            "reason": note.reason,
        },
    )
    return note


@transaction.atomic
def void_invoice(invoice: Invoice) -> Invoice:
    """A finalized, unpaid invoice voided: it keeps its number (no gap) and bills nothing."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.state != Invoice.State.FINALIZED:
        raise DocumentError(
            f"only a finalized, unpaid invoice can be voided, not a {invoice.state} one"
        )
    invoice.state = Invoice.State.VOID
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["state", "voided_at", "updated_at"])
    emit(
        invoice.issuer,
        "invoice.voided",
        f"invoice:{invoice.pk}",
        {"invoice": invoice.number, "total": str(invoice.total), "currency": invoice.currency},
    )
    return invoice


@transaction.atomic
def mark_paid(invoice: Invoice) -> Invoice:
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.state != Invoice.State.FINALIZED:
        raise DocumentError(f"only a finalized invoice can be paid, not a {invoice.state} one")
    invoice.state = Invoice.State.PAID
    invoice.paid_at = timezone.now()
    invoice.save(update_fields=["state", "paid_at", "updated_at"])
    return invoice
