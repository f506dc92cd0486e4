"""The people side of the developer portal: who belongs to which organization and in what
role, how they are invited, how scripts sign in, and partners' requests for higher limits.

Secrets (access tokens, invitation tokens) are stored only as SHA-256, like API keys.
"""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from mgmt.gateway.models.access import Subscription
from mgmt.gateway.models.catalog import Organization


class Role(models.TextChoices):
    """What a member may do in an organization (mgmt.developers.roles says exactly what)."""

    OWNER = "owner", "Owner: everything, including members"
    DEVELOPER = "developer", "Developer: applications, keys, subscriptions"
    BILLING = "billing", "Billing: reads applications and subscriptions"


class DeveloperAccount(models.Model):
    """A portal user's own state beside Django's User: whether their address is verified."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="developer_account"
    )
    email_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.user)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class Membership(models.Model):
    """A user's place in an organization."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.DEVELOPER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Invitation(models.Model):
    """An owner's invitation for an address to join with a role; the token is mailed once."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.DEVELOPER)
    token_hash = models.BinaryField(max_length=32, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization} ({self.role})"

    # What `state()` can answer, for the API's schema.
    STATES = ("open", "accepted", "revoked", "expired")

    def is_open(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now

    def state(self, now: datetime | None = None) -> str:
        """open, accepted, revoked or expired: how admin, the API and the portal say it."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "open" if self.is_open(now) else "expired"


class AccessToken(models.Model):
    """A personal token for scripts calling the developer API: `tgp_<token_id>_<secret>`,
    stored as SHA-256, shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens"
    )
    label = models.CharField(max_length=100, blank=True)
    token_id = models.CharField(max_length=12, unique=True, editable=False)
    token_hash = models.BinaryField(max_length=32, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "developer API token"

    def __str__(self) -> str:
        return f"tgp_{self.token_id}_…"

    def is_usable(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class LimitRequest(models.Model):
    """A partner asking for more on one subscription. An API owner approves or rejects it in
    admin; an approval writes the subscription's overrides, which the gateway applies."""

    class State(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"
        WITHDRAWN = "withdrawn"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="limit_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # [{"requests": 100, "unit": "second", "unit_multiplier": 1}, ...], checked by the service.
    windows = models.JSONField(default=list, blank=True)
    quota_requests = models.PositiveBigIntegerField(null=True, blank=True)
    reason = models.TextField()
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "limit request"

    def __str__(self) -> str:
        return f"{self.subscription}: {self.summary()}"

    def summary(self) -> str:
        parts = [f"{w['requests']:,} per {w['unit_multiplier']} {w['unit']}" for w in self.windows]
        if self.quota_requests:
            parts.append(f"quota {self.quota_requests:,}")
        return ", ".join(parts) or "nothing"
