"""What partners hold: plans, applications, API keys and subscriptions."""

import secrets
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from mgmt.compiler.rate_limits import QUOTA_PERIOD_MONTHS, window_seconds
from mgmt.gateway import validators
from mgmt.gateway.models.catalog import Organization, Product


def new_public_id() -> str:
    return "app_" + secrets.token_hex(8)


class Plan(models.Model):
    """A tier of a product (free, paid, internal), with its rate limits and quota.

    Its windows are `rate_limits` (PlanRateLimit); a subscription may override them.
    """

    class QuotaPeriod(models.TextChoices):
        MONTH = "month"
        YEAR = "year"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans")
    name = models.CharField(max_length=100)
    slug = models.CharField(
        max_length=63,
        unique=True,
        validators=[validators.validate_slug],
        help_text="Passed upstream as x-plan.",
    )
    requires_approval = models.BooleanField(
        default=False, help_text="Subscriptions wait for the API owner's approval."
    )
    public = models.BooleanField(
        default=True,
        help_text="Offered in the developer portal; a private plan is given by an API owner only.",
    )
    description = models.TextField(blank=True)
    quota_requests = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=[validators.validate_quota_requests],
        help_text="Calls per billing period; empty for no quota.",
    )
    quota_period = models.CharField(
        max_length=5,
        choices=QuotaPeriod.choices,
        default=QuotaPeriod.MONTH,
        help_text="Periods start on each subscription's own start date.",
    )
    quota_shadow = models.BooleanField(
        default=False, help_text="Counted and reported, never enforced."
    )
    granted_scopes = models.CharField(
        max_length=1000,
        blank=True,
        validators=[validators.validate_scopes],
        help_text="Space-separated OAuth2 scopes its subscribers hold. A route that requires "
        "a scope admits API keys and client certificates of this plan's subscribers only if "
        "the plan grants it, and Tollgate's tokens carry only scopes their plan grants.",
    )

    class Meta:
        ordering = ["product__name", "name"]

    def __str__(self) -> str:
        return f"{self.product.name} / {self.name}"

    @property
    def quota_period_months(self) -> int:
        """1 or 12; 0 for a period that is neither (the compiler refuses it, naming the plan)."""
        return QUOTA_PERIOD_MONTHS.get(self.quota_period, 0)


class Application(models.Model):
    """A partner's client: holds keys and subscriptions."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="applications"
    )
    name = models.CharField(max_length=200)
    public_id = models.CharField(
        max_length=40,
        unique=True,
        default=new_public_id,
        editable=False,
        help_text="Passed upstream as x-application-id.",
    )
    description = models.TextField(blank=True)
    contact_email = models.EmailField(
        blank=True,
        help_text="Where lifecycle notices about this application go; empty: the organization's.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "name"], name="unique_app_name_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def notice_recipient(self) -> str:
        """The address lifecycle notices go to ("" when nobody gave one)."""
        return self.contact_email or self.organization.contact_email


class ApiKey(models.Model):
    """An API key: only its SHA-256 is stored; the key id is the visible prefix."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=100, blank=True)
    key_id = models.CharField(max_length=12, unique=True, editable=False)
    key_hash = models.BinaryField(max_length=32, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    rotated_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rotations",
        editable=False,
        help_text="The key this one replaced; it kept working until its overlap ended.",
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"tg_{self.key_id}_…"

    def is_usable(self, now: datetime | None = None) -> bool:
        """Neither revoked nor expired at `now`."""
        now = now or timezone.now()
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now


class Subscription(models.Model):
    """An application's right to call a product's APIs on a plan."""

    class State(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        SUSPENDED = "suspended"
        CANCELLED = "cancelled"

    # Not ended: at most one of these per application and product.
    OPEN_STATES = (State.PENDING, State.ACTIVE, State.SUSPENDED)

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="subscriptions"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(
        default=timezone.now, help_text="Also where the quota's billing periods start."
    )
    quota_requests = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=[validators.validate_quota_requests],
        help_text="Overrides the plan's quota (its period stays); empty: the plan's quota. "
        "Adds a quota when the plan has none.",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "product"],
                condition=models.Q(state__in=["pending", "active", "suspended"]),
                name="one_open_subscription_per_product",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application} → {self.product} ({self.plan.name})"

    def clean(self) -> None:
        unset = self.plan_id is None or self.product_id is None
        if not unset and self.plan.product_id != self.product_id:
            raise ValidationError({"plan": "this plan belongs to another product"})


class RateLimit(models.Model):
    """`requests` per window of `unit_multiplier` x `unit`: one limit of a plan or subscription.

    An owner has one limit per window length: 60 seconds and 1 minute are the same window.
    """

    class Unit(models.TextChoices):
        SECOND = "second"
        MINUTE = "minute"
        HOUR = "hour"
        DAY = "day"

    class Algorithm(models.TextChoices):
        SLIDING = "sliding", "Sliding window (never more than the limit in any window)"
        FIXED = "fixed", "Fixed window (up to twice the limit across a boundary)"

    # Names the owner in error messages ("this plan already has ...").
    owner_label = "owner"

    requests = models.PositiveBigIntegerField(
        validators=[validators.validate_limit_requests], help_text="Calls admitted per window."
    )
    unit = models.CharField(max_length=6, choices=Unit.choices, default=Unit.MINUTE)
    unit_multiplier = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1, "a window is at least 1 unit long")],
        help_text="The window is this many units, e.g. 5 with unit minute: 5 minutes.",
    )
    algorithm = models.CharField(max_length=7, choices=Algorithm.choices, default=Algorithm.SLIDING)
    shadow = models.BooleanField(default=False, help_text="Counted and reported, never enforced.")

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.requests} per {self.unit_multiplier} {self.unit}"

    @property
    def window_seconds(self) -> int:
        return window_seconds(self.unit, self.unit_multiplier)

    def owner_id(self) -> int | None:
        raise NotImplementedError

    def sibling_windows(self) -> "list[tuple[str, int]]":
        """(unit, multiplier) of the owner's other saved limits."""
        raise NotImplementedError

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not isinstance(self.unit_multiplier, int) or self.unit not in self.Unit.values:
            return  # the field errors say what is wrong
        seconds = self.window_seconds
        try:
            validators.validate_window_seconds(seconds)
        except ValidationError as exc:
            errors["unit_multiplier"] = exc.messages
        if self.owner_id() is not None and any(
            window_seconds(unit, multiplier) == seconds
            for unit, multiplier in self.sibling_windows()
        ):
            errors["unit"] = validators.duplicate_window_message(self.owner_label, seconds)
        if errors:
            raise ValidationError(errors)


class PlanRateLimit(RateLimit):
    """A window of a plan: every subscription on the plan is counted against it."""

    owner_label = "plan"
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="rate_limits")

    class Meta(RateLimit.Meta):
        verbose_name = "rate limit"
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "unit", "unit_multiplier"], name="one_plan_limit_per_window"
            ),
        ]

    def owner_id(self) -> int | None:
        return self.plan_id

    def sibling_windows(self) -> list[tuple[str, int]]:
        others = PlanRateLimit.objects.filter(plan_id=self.plan_id).exclude(pk=self.pk)
        return list(others.values_list("unit", "unit_multiplier"))


class SubscriptionRateLimit(RateLimit):
    """A subscription's override of its plan's limits: a partner who asked for more.

    It replaces the plan's limit with the same window length (window_seconds, so 60
    seconds overrides 1 minute); a window the plan lacks is added; the plan's windows
    without an override stay. Overrides follow the subscription, not the plan: on a
    plan change they still apply.
    """

    owner_label = "subscription"
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="rate_limits"
    )

    class Meta(RateLimit.Meta):
        verbose_name = "rate limit override"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "unit", "unit_multiplier"],
                name="one_subscription_limit_per_window",
            ),
        ]

    def owner_id(self) -> int | None:
        return self.subscription_id

    def sibling_windows(self) -> list[tuple[str, int]]:
        others = SubscriptionRateLimit.objects.filter(subscription_id=self.subscription_id).exclude(
            pk=self.pk
        )
        return list(others.values_list("unit", "unit_multiplier"))
