"""Billing: versioned prices on plans, the meter of record per subscription and period,
invoices with gapless numbers per issuer, credit notes, and the webhooks that tell other
systems.

Money is `Decimal` (6 places stored; lines are rounded to the currency's minor unit by
mgmt.billing.pricing). Billing history outlives what it bills: a deleted subscription,
application or plan leaves its periods and invoices, with the names they were issued under.
"""

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from mgmt.billing import pricing
from mgmt.billing.currencies import is_currency
from mgmt.gateway.models import Organization, Plan, Subscription

MONEY: dict[str, Any] = {"max_digits": 24, "decimal_places": 6}


class PlanPrice(models.Model):
    """What a plan costs from `valid_from` on. A period is billed at the price in force at
    its start, so a new price applies from each subscription's next period and a running
    period keeps its price. A price in force is never edited: add a new one."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prices")
    valid_from = models.DateTimeField(
        default=timezone.now, help_text="Periods starting at or after this use this price."
    )
    currency = models.CharField(max_length=3, help_text="ISO 4217, e.g. EUR.")
    fee = models.DecimalField(
        **MONEY, default=Decimal(0), help_text="Recurring fee per billing period."
    )
    included_units = models.PositiveBigIntegerField(
        default=0, help_text="Units each period includes before any unit is charged."
    )
    model = models.CharField(
        max_length=10,
        choices=[(m.value, m.value.replace("_", " ")) for m in pricing.PricingModel],
        default=pricing.PricingModel.PER_UNIT.value,
    )
    unit_price = models.DecimalField(**MONEY, default=Decimal(0), help_text="Per unit model.")
    package_size = models.PositiveBigIntegerField(default=0, help_text="Package model: units.")
    package_price = models.DecimalField(
        **MONEY, default=Decimal(0), help_text="Package model: price of one package."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "valid_from"], name="one_price_per_start")
        ]

    def __str__(self) -> str:
        return f"{self.plan} from {self.valid_from:%Y-%m-%d %H:%M} ({self.currency})"

    def as_price(self, tiers: list["PriceTier"] | None = None) -> pricing.Price:
        rows = tiers if tiers is not None else list(self.tiers.all())
        return pricing.Price(
            currency=self.currency,
            fee=self.fee,
            included_units=self.included_units,
            model=pricing.PricingModel(self.model),
            unit_price=self.unit_price,
            package_size=self.package_size,
            package_price=self.package_price,
            tiers=tuple(
                pricing.Tier(t.up_to, t.unit_price, t.flat_fee)
                for t in sorted(rows, key=lambda t: (t.up_to is None, t.up_to or 0))
            ),
        )

    def clean(self) -> None:
        if self.currency and not is_currency(self.currency):
            raise ValidationError({"currency": f"{self.currency!r} is not an ISO 4217 currency"})


class PriceTier(models.Model):
    """One tier of a graduated or volume price, counted in billable units."""

    price = models.ForeignKey(PlanPrice, on_delete=models.CASCADE, related_name="tiers")
    up_to = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Last billable unit of this tier; empty: no bound."
    )
    unit_price = models.DecimalField(**MONEY, default=Decimal(0))
    flat_fee = models.DecimalField(**MONEY, default=Decimal(0))

    class Meta:
        ordering = ["price", models.F("up_to").asc(nulls_last=True)]

    def __str__(self) -> str:
        return f"up to {self.up_to or '∞'} at {self.unit_price}"


class BillingPeriod(models.Model):
    """One subscription's billing period: the meter of record. `units` is what the request
    path's own counter says was admitted (weighted by route cost), read by the meter fold;
    the period is closed once, after its end, by the close job."""

    class State(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.SET_NULL, null=True, related_name="billing_periods"
    )
    subscription_ref = models.BigIntegerField(help_text="The subscription's id, kept after it.")
    index = models.PositiveIntegerField(help_text="0 for the period the subscription started in.")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    issuer = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="billing_periods_issued"
    )
    partner = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="billing_periods_billed"
    )
    application_name = models.CharField(max_length=200)
    product_name = models.CharField(max_length=200)
    counter_key = models.CharField(max_length=300, help_text="The Redis hash the units are in.")
    units = models.BigIntegerField(default=0)
    read_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=6, choices=State.choices, default=State.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription_ref", "index"], name="one_period_per_subscription_index"
            )
        ]
        indexes = [models.Index(fields=["state", "ends_at"])]

    def __str__(self) -> str:
        return f"{self.application_name} / {self.product_name} #{self.index}"


class PeriodSegment(models.Model):
    """A part of a period on one plan: a plan changed mid-period closes one segment at the
    counter's reading of that moment and opens the next, so each plan bills its own units
    at its own price, its fee prorated by time."""

    period = models.ForeignKey(BillingPeriod, on_delete=models.CASCADE, related_name="segments")
    number = models.PositiveIntegerField()
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="billing_segments")
    plan_name = models.CharField(max_length=100)
    price = models.ForeignKey(
        PlanPrice, on_delete=models.PROTECT, null=True, blank=True, related_name="segments"
    )
    starts_at = models.DateTimeField()
    units_at_start = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["period", "number"]
        constraints = [
            models.UniqueConstraint(fields=["period", "number"], name="one_segment_number")
        ]


class Invoice(models.Model):
    """One per billing period (the one-to-one is the unique constraint): a running draft
    during the period, finalized once when it closes, then paid or void. A finalized
    invoice is never edited; corrections are credit notes."""

    class State(models.TextChoices):
        DRAFT = "draft"
        FINALIZED = "finalized"
        PAID = "paid"
        VOID = "void"

    period = models.OneToOneField(BillingPeriod, on_delete=models.PROTECT, related_name="invoice")
    issuer = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="invoices_issued"
    )
    partner = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="invoices_received"
    )
    state = models.CharField(max_length=9, choices=State.choices, default=State.DRAFT)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    number = models.CharField(max_length=40, blank=True)
    currency = models.CharField(max_length=3)
    units = models.BigIntegerField(default=0)
    total = models.DecimalField(**MONEY, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period__starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "sequence"], name="one_invoice_number_per_issuer"
            ),
            models.CheckConstraint(
                condition=models.Q(state="draft") | models.Q(sequence__isnull=False),
                name="a_finalized_invoice_has_a_number",
            ),
        ]
        indexes = [models.Index(fields=["partner", "state"])]

    def __str__(self) -> str:
        return self.number or f"draft {self.pk}"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=10)
    description = models.CharField(max_length=300)
    quantity = models.BigIntegerField(default=0)
    unit_amount = models.DecimalField(**MONEY, default=Decimal(0))
    amount = models.DecimalField(**MONEY, default=Decimal(0))

    class Meta:
        ordering = ["invoice", "position"]


class DocumentSequence(models.Model):
    """The next number of an issuer's invoices or credit notes, taken under a row lock in
    the transaction that finalizes: a rolled-back finalization gives its number back, so
    numbers have no gaps."""

    issuer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12)  # "invoice" or "credit_note"
    next_value = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "kind"], name="one_sequence_per_kind")
        ]


class CreditNote(models.Model):
    """A correction of a finalized invoice: an amount given back, numbered like invoices."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    sequence = models.PositiveIntegerField()
    number = models.CharField(max_length=40)
    amount = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class WebhookEndpoint(models.Model):
    """Where an issuing organization's billing events are sent, signed with `secret`
    (Standard Webhooks). The secret is shown once when created; never logged."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, editable=False)
    event_types = models.JSONField(
        default=list, blank=True, help_text="Empty: every billing event."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        types: Any = self.event_types
        return not types or event_type in types


class WebhookEvent(models.Model):
    """One billing event, once: its id is the idempotency key every delivery (and every
    retry of it) carries; (type, subject) is unique, so a rerun job makes no second one."""

    id = models.CharField(primary_key=True, max_length=40)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="webhook_events"
    )
    type = models.CharField(max_length=40)
    subject = models.CharField(max_length=80, help_text="What it is about, e.g. invoice:12.")
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["type", "subject"], name="one_event_per_subject")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    """One event to one endpoint, retried with backoff until delivered or given up."""

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(max_length=9, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_status = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-event__created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_id} to {self.endpoint_id} ({self.state})"


class DeliveryAttempt(models.Model):
    """The delivery log: each attempt, its answer and how long it took."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField(default=timezone.now)
    status = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at"]
