"""What partners hold: plans, applications, API keys and subscriptions."""

import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from mgmt.gateway import validators
from mgmt.gateway.models.catalog import Organization, Product


def new_public_id() -> str:
    return "app_" + secrets.token_hex(8)


class Plan(models.Model):
    """A tier of a product (free, paid, internal); limits arrive with rate limiting."""

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
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["product__name", "name"]

    def __str__(self) -> str:
        return f"{self.product.name} / {self.name}"


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

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="subscriptions"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(default=timezone.now)

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
