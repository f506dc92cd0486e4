"""The price form of admin and its tiers: checked by mgmt.billing.pricing, each refusal on
the field or tier at fault, plus the rules of a price's life. A price in force is never
edited (a change is a new price), a new price starts now or later (a running period keeps
its price), and a plan changes currency only while none of its periods is open."""

import re
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.formats import date_format

from mgmt.billing import pricing
from mgmt.billing.models import BillingPeriod, PlanPrice, PriceTier
from mgmt.gateway.models import Plan

PRICE_FIELDS: Final = (
    "currency",
    "fee",
    "included_units",
    "model",
    "unit_price",
    "package_size",
    "package_price",
)

PAST_GRACE: Final = timedelta(minutes=10)
"""How far back a new price's start may be and still mean "now": the form's default is the
moment the page was drawn, and filling the form in takes a while. Such a start is moved to
the moment of saving, so no period that began meanwhile changes price."""

_TIER_FIELD: Final = re.compile(r"tiers\[(\d+)\]\.(\w+)")


def in_force(price: PlanPrice, now: datetime) -> bool:
    """Whether a saved price applies already: it is then read-only."""
    return price.pk is not None and price.valid_from <= now


def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")


class PlanPriceForm(forms.ModelForm[PlanPrice]):
    """A new price, or one that has not started yet."""

    class Meta:
        model = PlanPrice
        fields = ("plan", "valid_from", *PRICE_FIELDS)

    def clean_currency(self) -> str:
        return str(self.cleaned_data.get("currency") or "").strip().upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        now = timezone.now()
        if in_force(self.instance, now):
            # The page was opened before the price started: it is too late to change it.
            raise ValidationError(
                f"this price is in force since {_when(self.instance.valid_from)}: "
                "a change is a new price"
            )
        self._check_start(cleaned, now)
        self._check_price(cleaned)
        self._check_currency_change(cleaned)
        return cleaned

    def _check_start(self, cleaned: dict[str, Any], now: datetime) -> None:
        start = cleaned.get("valid_from")
        if start is None or start >= now:
            return
        if start < now - PAST_GRACE:
            self.add_error(
                "valid_from",
                "must not be in the past: a running period keeps the price it started with; "
                "a new price starts now or later",
            )
        else:
            cleaned["valid_from"] = now

    def _check_price(self, cleaned: dict[str, Any]) -> None:
        if any(name not in cleaned for name in PRICE_FIELDS):
            return  # a field is refused already; its own message says why
        try:
            pricing.validate(price_of(cleaned))
        except pricing.PriceError as error:
            if error.field.startswith("tiers"):
                return  # the tiers' formset names the tier at fault
            self.add_error(error.field if error.field in self.fields else None, error.message)

    def _check_currency_change(self, cleaned: dict[str, Any]) -> None:
        plan: Plan | None = cleaned.get("plan") or (
            self.instance.plan if self.instance.plan_id is not None else None
        )
        currency, start = cleaned.get("currency"), cleaned.get("valid_from")
        if plan is None or not currency or start is None:
            return
        previous = (
            PlanPrice.objects.filter(plan=plan, valid_from__lte=start)
            .exclude(pk=self.instance.pk)
            .order_by("-valid_from")
            .first()
        )
        if previous is None or previous.currency == currency:
            return
        open_periods = (
            BillingPeriod.objects.filter(state=BillingPeriod.State.OPEN)
            .filter(Q(subscription__plan=plan) | Q(segments__plan=plan))
            .values("subscription_ref")
            .distinct()
            .count()
        )
        if open_periods:
            # A period is billed in one currency: its next segment cannot switch.
            self.add_error(
                "currency",
                f"a currency change mid-period: {plan} is priced in {previous.currency} and "
                f"{open_periods} subscription{'s' if open_periods != 1 else ''} of it "
                f"{'have' if open_periods != 1 else 'has'} an open billing period. "
                "Keep the currency, or change it once no period of the plan is open.",
            )


def price_of(cleaned: dict[str, Any], tiers: tuple[pricing.Tier, ...] = ()) -> pricing.Price:
    return pricing.Price(
        currency=cleaned["currency"],
        fee=cleaned["fee"],
        included_units=cleaned["included_units"],
        model=cleaned["model"],
        unit_price=cleaned["unit_price"],
        package_size=cleaned["package_size"],
        package_price=cleaned["package_price"],
        tiers=tiers,
    )


class PriceTierFormSet(BaseInlineFormSet[PriceTier, PlanPrice, forms.ModelForm[PriceTier]]):
    """The tiers of the price above them, checked with it: a ladder of strictly increasing
    bounds, open at the top, and only on a model that has tiers."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return  # each tier's own field errors first
        kept = [
            form
            for form in self.forms
            if (form.instance.pk is not None or form.has_changed())
            and not form.cleaned_data.get("DELETE")
        ]
        # Ordered as the price reads them (PlanPrice.as_price): bounds up, the open one last.
        kept.sort(key=lambda f: (f.cleaned_data["up_to"] is None, f.cleaned_data["up_to"] or 0))
        tiers = tuple(
            pricing.Tier(
                form.cleaned_data["up_to"],
                form.cleaned_data["unit_price"] or Decimal(0),
                form.cleaned_data["flat_fee"] or Decimal(0),
            )
            for form in kept
        )
        try:
            price = replace(self.instance.as_price([]), tiers=tiers)
        except ValueError:
            return  # the price's own fields are refused; the form says why
        try:
            pricing.validate(price)
        except pricing.PriceError as error:
            self._place(error, kept)

    def _place(self, error: pricing.PriceError, tiers: list[forms.ModelForm[PriceTier]]) -> None:
        if error.field == "tiers":
            raise ValidationError(error.message)
        match = _TIER_FIELD.fullmatch(error.field)
        if match is None:
            return  # one of the price's own fields: the price form shows it
        index, name = int(match[1]), match[2]
        tiers[index].add_error(name, error.message)
        raise ValidationError(f"tier {index + 1} (in order of bounds): {error.message}")
