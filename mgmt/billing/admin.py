"""Billing in Django admin for API owners: plan prices with their tiers, and the invoices
their organizations issue, read-only, changed only by their actions (paid, void) and by
credit notes; a link to the revenue report (revenue_views).

Staff see the prices and invoices of the organizations they are an owner or billing member
of (the roles that see billing); superusers see all.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import ForeignKey, OuterRef, QuerySet, Subquery
from django.forms import ModelChoiceField
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from mgmt.billing.access import scoped
from mgmt.billing.currencies import is_currency, minor_units, quantize
from mgmt.billing.documents import (
    DocumentError,
    create_credit_note,
    credited,
    mark_paid,
    void_invoice,
)
from mgmt.billing.invoice_csv import response as csv_response
from mgmt.billing.models import CreditNote, Invoice, InvoiceLine, PlanPrice, PriceTier
from mgmt.billing.price_forms import PlanPriceForm, PriceTierFormSet, in_force
from mgmt.billing.pricing import EN_DASH
from mgmt.billing.revenue import add_months, money
from mgmt.billing.webhooks_admin import ReadOnly  # the import registers its pages
from mgmt.gateway.models import Plan

# --- prices ----------------------------------------------------------------------------------


class PriceTierInline(admin.TabularInline[PriceTier, PlanPrice]):
    """A price's tiers are part of it: whoever may change the price may change them, as
    long as it has not started."""

    model = PriceTier
    formset = PriceTierFormSet
    extra = 0
    fields = ("up_to", "unit_price", "flat_fee")
    verbose_name_plural = "tiers (graduated and volume prices; bounds count billable units)"

    def _may(self, request: HttpRequest, obj: PlanPrice | None, action: str) -> bool:
        if obj is not None and in_force(obj, timezone.now()):
            return False
        return request.user.has_perm(f"billing.{action}_planprice")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, None, "view") or self._may(request, None, "change")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj, "change" if obj is not None else "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj, "change" if obj is not None else "add")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request, obj, "change" if obj is not None else "add")


@admin.register(PlanPrice)
class PlanPriceAdmin(admin.ModelAdmin[PlanPrice]):
    form = PlanPriceForm
    list_display = ("plan", "valid_from", "status", "currency", "model", "fee", "included_units")
    list_select_related = ("plan__product",)
    list_filter = ("currency", "model", ("plan__product", admin.RelatedOnlyFieldListFilter))
    search_fields = ("plan__name", "plan__product__name")
    date_hierarchy = "valid_from"
    inlines = (PriceTierInline,)
    fieldsets = (
        (
            None,
            {
                "fields": ("plan", "valid_from"),
                "description": "A period is billed at the price in force when it starts: a "
                "new price applies from each subscription's next period. A price in force "
                "is not edited; add a new one.",
            },
        ),
        (
            "Price",
            {
                "fields": (
                    "currency",
                    "fee",
                    "included_units",
                    "model",
                    "unit_price",
                    ("package_size", "package_price"),
                ),
                "description": "Included units come off first; the rest are charged by the "
                "model. Per unit: unit price. Package: size and price. Graduated and volume: "
                "the tiers below.",
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[PlanPrice]:
        started = (
            PlanPrice.objects.filter(plan=OuterRef("plan"), valid_from__lte=timezone.now())
            .order_by("-valid_from")
            .values("valid_from")[:1]
        )
        rows = super().get_queryset(request).annotate(current_start=Subquery(started))
        return scoped(request, rows, "plan__product__organization")

    @admin.display(description="status")
    def status(self, price: PlanPrice) -> str:
        current: datetime | None = getattr(price, "current_start", None)
        if price.valid_from > timezone.now():
            return "scheduled"
        return "in force" if current == price.valid_from else "replaced"

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "plan" and field is not None:
            plans = Plan.objects.select_related("product")
            field.queryset = scoped(request, plans, "product__organization")
        return field

    def get_readonly_fields(self, request: HttpRequest, obj: PlanPrice | None = None) -> Any:
        return ("plan",) if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: PlanPrice | None = None) -> bool:
        if obj is not None and in_force(obj, timezone.now()):
            return False  # shown read-only: a change is a new price
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: PlanPrice | None = None) -> bool:
        if obj is not None and in_force(obj, timezone.now()):
            return False  # periods were, or are being, billed at it
        return super().has_delete_permission(request, obj)


# --- invoices --------------------------------------------------------------------------------


class _InvoicePart(ReadOnly):
    """Lines and credit notes are part of the invoice: seen with it, never edited here."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("billing.view_invoice") or request.user.has_perm(
            "billing.change_invoice"
        )


class InvoiceLineInline(_InvoicePart, admin.TabularInline[InvoiceLine, Invoice]):
    model = InvoiceLine
    extra = 0
    fields = ("position", "kind", "description", "quantity", "unit_price", "line_amount")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[InvoiceLine]:
        return super().get_queryset(request).select_related("invoice")

    @admin.display(description="unit amount")
    def unit_price(self, line: InvoiceLine) -> str:
        # A unit price keeps its own decimals (0.0015), at least the currency's.
        exact = line.unit_amount
        cents = money(exact, line.invoice.currency)
        return f"{exact.normalize():f}" if exact != cents else str(cents)

    @admin.display(description="amount")
    def line_amount(self, line: InvoiceLine) -> str:
        return str(money(line.amount, line.invoice.currency))


class CreditNoteInline(_InvoicePart, admin.TabularInline[CreditNote, Invoice]):
    model = CreditNote
    extra = 0
    fields = ("number", "note_amount", "reason", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CreditNote]:
        return super().get_queryset(request).select_related("invoice")

    @admin.display(description="amount")
    def note_amount(self, note: CreditNote) -> str:
        return str(money(note.amount, note.invoice.currency))


class MonthFilter(admin.SimpleListFilter):
    """The month a period starts in (UTC), among the months the list has."""

    title = "month (period start)"
    parameter_name = "month"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        months = model_admin.get_queryset(request).datetimes(
            "period__starts_at", "month", order="DESC", tzinfo=UTC
        )
        return [(f"{m:%Y-%m}", f"{m:%B %Y}") for m in months]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        try:
            start = datetime.strptime(value, "%Y-%m").replace(tzinfo=UTC)
        except ValueError:
            return queryset.none()
        end = add_months(start.date(), 1)
        return queryset.filter(
            period__starts_at__gte=start,
            period__starts_at__lt=datetime(end.year, end.month, 1, tzinfo=UTC),
        )


class CreditNoteForm(forms.Form):
    amount = forms.DecimalField(max_digits=24, decimal_places=6, help_text="Given back.")
    reason = forms.CharField(max_length=500, help_text="Why: the partner reads it.")

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        if is_currency(currency):
            step = Decimal(1).scaleb(-minor_units(currency))
            self.fields["amount"].widget.attrs["step"] = str(step)

    def clean_amount(self) -> Any:
        amount = self.cleaned_data["amount"]
        if is_currency(self.currency) and quantize(amount, self.currency) != amount:
            raise forms.ValidationError(
                f"{self.currency} amounts are given in its minor unit, e.g. "
                f"{quantize(amount, self.currency)}"
            )
        return amount


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin[Invoice]):
    list_display = (
        "invoice_number",
        "partner",
        "issuer",
        "billing_period",
        "state",
        "units",
        "invoice_total",
        "currency",
    )
    list_select_related = ("issuer", "partner", "period")
    list_filter = (
        "state",
        ("issuer", admin.RelatedOnlyFieldListFilter),
        ("partner", admin.RelatedOnlyFieldListFilter),
        "currency",
        MonthFilter,
    )
    search_fields = ("number", "partner__name", "period__application_name")
    fields = (
        "number",
        "state",
        "issuer",
        "partner",
        "application",
        "product",
        "billing_period",
        "currency",
        "units",
        "invoice_total",
        "credited_total",
        "finalized_at",
        "paid_at",
        "voided_at",
    )
    readonly_fields = fields
    inlines = (InvoiceLineInline, CreditNoteInline)
    actions = ("mark_paid", "void", "export_csv")
    change_form_template = "billing/admin/invoice_change_form.html"
    change_list_template = "billing/admin/invoice_change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invoice]:
        return scoped(request, super().get_queryset(request), "issuer")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the close job makes them

    def has_delete_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return False  # numbers have no gaps: a wrong invoice is voided or credited

    @admin.display(description="number", ordering="sequence")
    def invoice_number(self, invoice: Invoice) -> str:
        return str(invoice)

    @admin.display(description="period", ordering="period__starts_at")
    def billing_period(self, invoice: Invoice) -> str:
        return f"{invoice.period.starts_at:%Y-%m-%d} {EN_DASH} {invoice.period.ends_at:%Y-%m-%d}"

    @admin.display
    def application(self, invoice: Invoice) -> str:
        return invoice.period.application_name

    @admin.display
    def product(self, invoice: Invoice) -> str:
        return invoice.period.product_name

    @admin.display(description="total", ordering="total")
    def invoice_total(self, invoice: Invoice) -> str:
        return str(money(invoice.total, invoice.currency))

    @admin.display(description="credited")
    def credited_total(self, invoice: Invoice) -> str:
        return str(money(credited(invoice), invoice.currency))

    # --- actions -----------------------------------------------------------------------------

    @admin.action(description="Mark the selected invoices paid", permissions=["change"])
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._each(request, queryset, mark_paid, "marked paid")

    @admin.action(description="Void the selected invoices", permissions=["change"])
    def void(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        self._each(request, queryset, void_invoice, "voided")

    @admin.action(description="Export the selected invoices as CSV", permissions=["view"])
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[Invoice]
    ) -> StreamingHttpResponse:
        ordered = queryset.order_by("issuer__name", "sequence", "pk")
        return csv_response(ordered, f"invoices-{timezone.now():%Y%m%d-%H%M%S}.csv")

    def _each(
        self, request: HttpRequest, queryset: QuerySet[Invoice], change: Any, done: str
    ) -> None:
        """Each invoice on its own: one refused (already paid, say) leaves the others done."""
        changed = []
        for invoice in queryset.order_by("sequence", "pk"):
            try:
                change(invoice)
            except DocumentError as error:
                messages.error(request, f"{invoice}: {error}")
            else:
                changed.append(str(invoice))
        if changed:
            messages.success(request, f"{len(changed)} {done}: {', '.join(changed)}")

    # --- the page ----------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/credit-note/",
                self.admin_site.admin_view(self.credit_note_view),
                name="billing_invoice_credit_note",
            )
        ]
        return own + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied("an invoice changes only by its actions and credit notes")
        invoice = self.get_object(request, unquote(object_id))
        context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        if invoice is not None:
            context.update(self._credit_context(request, invoice), title=f"Invoice {invoice}")
        return super().change_view(request, object_id, form_url, context)

    def _credit_context(self, request: HttpRequest, invoice: Invoice) -> dict[str, Any]:
        creditable = invoice.state in (Invoice.State.FINALIZED, Invoice.State.PAID)
        credited_so_far = credited(invoice)
        return {
            "credit_form": CreditNoteForm(currency=invoice.currency),
            "credit_url": reverse("admin:billing_invoice_credit_note", args=[invoice.pk]),
            "can_credit": creditable and self.has_change_permission(request, invoice),
            "credited_amount": money(credited_so_far, invoice.currency),
            "left_to_credit": money(invoice.total - credited_so_far, invoice.currency),
        }

    def credit_note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        invoice = self.get_object(request, unquote(object_id))
        if invoice is None:
            raise Http404(f"no invoice with id {object_id!r}")
        change_url = reverse("admin:billing_invoice_change", args=[invoice.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        if not self.has_change_permission(request, invoice):
            raise PermissionDenied
        form = CreditNoteForm(request.POST, currency=invoice.currency)
        if not form.is_valid():
            for field, errors in form.errors.items():
                text = " ".join(str(e) for e in errors)
                messages.error(request, f"Credit note not made: {field}: {text}")
            return HttpResponseRedirect(change_url)
        amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
        try:
            note = create_credit_note(invoice, amount, reason)
        except DocumentError as error:
            messages.error(request, f"Credit note not made: {error}")
        else:
            messages.success(
                request, f"Credit note {note.number}: {note.amount} {invoice.currency} given back."
            )
        return HttpResponseRedirect(change_url)
