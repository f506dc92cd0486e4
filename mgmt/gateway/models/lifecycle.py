"""The lifecycle's records: every transition of a version (the audit log), and every notice
sent to the owners of subscribed applications."""

from django.conf import settings
from django.db import models

from mgmt.gateway.models.access import Application
from mgmt.gateway.models.catalog import ApiVersion


class LifecycleEvent(models.Model):
    """One transition: who, when, from, to, why. Written by mgmt.gateway.lifecycle only."""

    api_version = models.ForeignKey(
        ApiVersion, null=True, on_delete=models.SET_NULL, related_name="lifecycle_events"
    )
    # Kept in words too: the audit log outlives a deleted version.
    version_label = models.CharField(max_length=260)
    from_state = models.CharField(max_length=12)
    to_state = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The user's name at the time, or the job that acted ("deprecation job").
    actor_label = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    forced = models.BooleanField(default=False)
    # What the transition set: sunset, successor, changelog, as the owner saw them.
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "lifecycle event"

    def __str__(self) -> str:
        return f"{self.version_label}: {self.from_state} → {self.to_state}"


class LifecycleNotice(models.Model):
    """A notice to one application's owners about one version: the news that it is
    deprecated, a reminder `lead_days` before the sunset, or the news that it was retired.
    One row per (version, application, kind, lead time, sunset), and one deprecation notice
    per (version, application, deprecation date), so a rerun or a second worker finds the
    row and sends nothing more.
    """

    class Kind(models.TextChoices):
        DEPRECATED = "deprecated", "Deprecation"
        REMINDER = "reminder", "Sunset reminder"
        RETIRED = "retired", "Retirement"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (retries exhausted)"
        SUPERSEDED = "superseded", "Superseded by a nearer reminder"
        NO_RECIPIENT = "no_recipient", "No contact address"

    api_version = models.ForeignKey(ApiVersion, on_delete=models.CASCADE, related_name="notices")
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="lifecycle_notices"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    lead_days = models.PositiveIntegerField(
        default=0, help_text="0 for a deprecation or retirement notice."
    )
    sunset_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The sunset it is about; none for a deprecation with no date yet.",
    )
    deprecated_at = models.DateTimeField(
        null=True, blank=True, help_text="The deprecation a deprecation notice announces."
    )
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.PENDING, db_index=True
    )
    recipient = models.EmailField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "lifecycle notice"
        constraints = [
            models.UniqueConstraint(
                fields=["api_version", "application", "kind", "lead_days", "sunset_at"],
                name="one_notice_per_version_app_kind_lead_sunset",
            ),
            # Its sunset may be empty (NULLs are distinct): the deprecation date keys it.
            models.UniqueConstraint(
                fields=["api_version", "application", "deprecated_at"],
                condition=models.Q(kind="deprecated"),
                name="one_deprecation_notice_per_version_app",
            ),
        ]

    def __str__(self) -> str:
        what = f"{self.lead_days} days" if self.kind == self.Kind.REMINDER else self.kind
        return f"{self.api_version} → {self.application} ({what})"

    @property
    def message_id(self) -> str:
        """Stable per notice: a mail client sees a resend after a crash as the same message."""
        return f"<lifecycle-notice-{self.pk}@tollgate>"
