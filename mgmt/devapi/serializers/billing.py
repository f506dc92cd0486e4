"""The invoices an organization receives: the list's filters, and each invoice (or running
draft) as mgmt.billing.invoice_view shows it, with its lines and credit notes."""

from datetime import date
from typing import Any

from rest_framework import serializers

from mgmt.billing.models import Invoice


def _day(field_help: str) -> serializers.DateField:
    return serializers.DateField(required=False, input_formats=["%Y-%m-%d"], help_text=field_help)


class InvoiceQuery(serializers.Serializer[Any]):
    """The query string: `state`, `from` and `to` (Python keywords, hence get_fields)."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {
            "state": serializers.ChoiceField(
                choices=Invoice.State.choices,
                required=False,
                help_text="Only invoices in this state; `draft` gives the running drafts.",
            ),
            "from": _day("Periods starting on or after this day (UTC), YYYY-MM-DD."),
            "to": _day("Periods starting on or before this day (UTC), YYYY-MM-DD, included."),
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start: date | None = attrs.get("from")
        end: date | None = attrs.get("to")
        if start is not None and end is not None and end < start:
            raise serializers.ValidationError({"to": ["must not be before `from`"]})
        return attrs


def _amount(field_help: str = "") -> serializers.DecimalField:
    # No fixed places: each amount carries its currency's (12.50 EUR, 1250 JPY), as printed.
    return serializers.DecimalField(
        max_digits=None, decimal_places=None, read_only=True, help_text=field_help
    )


class PartyOutput(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()


class LineOutput(serializers.Serializer[Any]):
    position = serializers.IntegerField()
    kind = serializers.CharField(help_text="e.g. fee, included, units, package or tier.")
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_amount = _amount("Price of one; a unit price may have more decimals than the currency.")
    amount = _amount("Rounded to the currency's minor unit; the lines add up to the total.")


class CreditNoteOutput(serializers.Serializer[Any]):
    number = serializers.CharField(help_text="Like CN-ACME-000001.")
    amount = _amount("Given back.")
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class InvoiceSummaryOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="Names a draft, which has no number yet.")
    number = serializers.CharField(help_text="Like INV-ACME-000001; empty while a draft.")
    state = serializers.ChoiceField(
        choices=Invoice.State.choices,
        help_text="draft: the running period, updated as calls are counted; finalized once "
        "the period has closed; then paid or void.",
    )
    issuer = PartyOutput(help_text="The API owner who bills.")
    partner = PartyOutput(help_text="Your organization.")
    application = serializers.CharField(source="application_name")
    product = serializers.CharField(source="product_name")
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField(help_text="Excluded: the next period starts here.")
    currency = serializers.CharField(help_text="ISO 4217.")
    units = serializers.IntegerField(
        help_text="Units counted in the period (a call to a costly route counts more); for a "
        "draft, so far."
    )
    total = _amount("The sum of the lines.")
    credited = _amount("The sum of the credit notes.")
    balance = _amount("The total less the credit notes; zero when void.")
    finalized_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    voided_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(help_text="A draft changes as calls are counted.")


class InvoiceOutput(InvoiceSummaryOutput):
    units_read_at = serializers.DateTimeField(
        allow_null=True, help_text="When the units were last read from the gateway's counter."
    )
    lines = LineOutput(many=True, help_text="In order: the recurring fee, included, charges.")
    credit_notes = CreditNoteOutput(many=True, help_text="Oldest first.")
