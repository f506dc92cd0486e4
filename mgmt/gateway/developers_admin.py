"""Admin for what partners do in the portal: API owners answer limit requests and pending
subscriptions, see members and invitations, revoke developer tokens, and upload each
version's OpenAPI document. Decisions go through mgmt.developers.access, like the portal's."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from mgmt.developers import access, accounts
from mgmt.developers.openapi_document import (
    MAX_DOCUMENT_BYTES,
    OpenApiDocumentError,
    parse_openapi_document,
)
from mgmt.gateway.models import (
    AccessToken,
    ApiVersion,
    DeveloperAccount,
    Invitation,
    LimitRequest,
    Membership,
    Organization,
    Subscription,
)


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


class OpenApiDocumentForm(forms.ModelForm[ApiVersion]):
    """The version form with a file field beside the document's text: either one sets it."""

    openapi_upload = forms.FileField(
        required=False,
        label="Upload an OpenAPI document",
        help_text="A .json, .yaml or .yml file (OpenAPI 3.0 or 3.1); replaces the text below.",
    )

    class Meta:
        model = ApiVersion
        # The admin passes the fields of its fieldsets; this names only the one added here.
        fields = ("openapi_document",)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("openapi_upload")
        if upload is None:
            return cleaned
        if upload.size > MAX_DOCUMENT_BYTES:
            self.add_error("openapi_upload", "the file is larger than 2 MiB")
            return cleaned
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            self.add_error("openapi_upload", "the file is not UTF-8 text")
            return cleaned
        try:
            parse_openapi_document(text)
        except OpenApiDocumentError as exc:
            self.add_error("openapi_upload", str(exc))
            return cleaned
        cleaned["openapi_document"] = text
        self.instance.openapi_document = text
        return cleaned


DOCUMENTATION_FIELDSET = (
    "Documentation for partners",
    {
        "fields": ("openapi_upload", "openapi_document"),
        "description": "Shown in the developer portal while the version is published or "
        "deprecated. Checked against the OpenAPI 3 schema before it is saved.",
    },
)


class MembershipInline(admin.TabularInline[Membership, Organization]):
    model = Membership
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)


class InvitationInline(admin.TabularInline[Invitation, Organization]):
    model = Invitation
    fk_name = "organization"
    extra = 0
    fields = ("email", "role", "invited_by", "created_at", "expires_at", "accepted_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # invitations carry a mailed token: owners send them from the portal


@admin.action(description="Approve the selected pending subscriptions")
def approve_subscriptions(
    modeladmin: admin.ModelAdmin[Subscription], request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    with transaction.atomic():
        done = sum(access.decide_subscription(subscription=s, approve=True) for s in queryset)
    messages.success(request, f"{done} approved; the gateway admits them within seconds.")


@admin.action(description="Reject the selected pending subscriptions")
def reject_subscriptions(
    modeladmin: admin.ModelAdmin[Subscription], request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    with transaction.atomic():
        done = sum(access.decide_subscription(subscription=s, approve=False) for s in queryset)
    messages.success(request, f"{done} rejected.")


class LimitRequestAdmin(admin.ModelAdmin[LimitRequest]):
    list_display = ("subscription", "asked_for", "state", "requested_by", "created_at")
    list_select_related = (
        "subscription__application",
        "subscription__product",
        "subscription__plan",
        "requested_by",
    )
    list_filter = ("state", "subscription__product")
    search_fields = ("subscription__application__name", "reason")
    fields = (
        "subscription",
        "asked_for",
        "limits_now",
        "reason",
        "requested_by",
        "created_at",
        "state",
        "decided_by",
        "decided_at",
        "decision_note",
    )
    readonly_fields = tuple(f for f in fields if f != "decision_note")
    actions = ("approve", "reject")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # partners ask from the portal or the API

    @admin.display(description="asked for")
    def asked_for(self, limit_request: LimitRequest) -> str:
        return limit_request.summary()

    @admin.display(description="the subscription's limits now")
    def limits_now(self, limit_request: LimitRequest) -> str:
        subscription = limit_request.subscription
        plan = [f"{w} (plan)" for w in subscription.plan.rate_limits.all()]
        overrides = [f"{w} (override)" for w in subscription.rate_limits.all()]
        quota = subscription.quota_requests or subscription.plan.quota_requests
        rows = [*plan, *overrides] + (
            [f"quota {quota:,} per {subscription.plan.quota_period}"] if quota else []
        )
        return format_html_join("", "<div>{}</div>", ((r,) for r in rows)) or "—"

    def _decide(self, request: HttpRequest, queryset: QuerySet[LimitRequest], approve: bool) -> int:
        with transaction.atomic():  # one commit, one snapshot
            return sum(
                access.decide_limit_request(limit_request=r, approve=approve, by=_user(request))
                for r in queryset
            )

    @admin.action(description="Approve the selected requests (they apply at the gateway)")
    def approve(self, request: HttpRequest, queryset: QuerySet[LimitRequest]) -> None:
        done = self._decide(request, queryset, approve=True)
        messages.success(request, f"{done} approved; the next requests count against them.")

    @admin.action(description="Reject the selected requests")
    def reject(self, request: HttpRequest, queryset: QuerySet[LimitRequest]) -> None:
        done = self._decide(request, queryset, approve=False)
        messages.success(request, f"{done} rejected.")

    def save_model(self, request: HttpRequest, obj: LimitRequest, form: Any, change: bool) -> None:
        # Only the note is editable here; the decision is an action, so it is recorded once.
        LimitRequest.objects.filter(pk=obj.pk).update(decision_note=obj.decision_note)


class AccessTokenAdmin(admin.ModelAdmin[AccessToken]):
    list_display = ("__str__", "user", "label", "created_at", "expires_at", "revoked_at")
    list_select_related = ("user",)
    list_filter = ("revoked_at",)
    search_fields = ("token_id", "user__username", "label")
    fields = ("user", "label", "token_id", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tokens are shown once to their owner, in the portal or the API

    @admin.action(description="Revoke the selected tokens now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        for token in queryset.filter(revoked_at__isnull=True):
            accounts.revoke_access_token(token=token)
        messages.success(request, "Revoked.")


class DeveloperAccountAdmin(admin.ModelAdmin[DeveloperAccount]):
    list_display = ("user", "email_verified_at", "created_at")
    list_select_related = ("user",)
    list_filter = ("email_verified_at",)
    search_fields = ("user__username",)
    fields = ("user", "email_verified_at", "created_at")
    readonly_fields = ("user", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts start with a sign-up in the portal or the API


class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user", "organization", "role", "created_at")
    list_select_related = ("user", "organization")
    list_filter = ("role", "organization")
    search_fields = ("user__username", "organization__name")
    autocomplete_fields = ("user", "organization")


class InvitationAdmin(admin.ModelAdmin[Invitation]):
    list_display = ("email", "organization", "role", "created_at", "expires_at", "state")
    list_select_related = ("organization",)
    list_filter = ("role",)
    search_fields = ("email", "organization__name")
    readonly_fields = (
        "organization",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    )
    fields = readonly_fields
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="state")
    def state(self, invitation: Invitation) -> str:
        return invitation.state()

    @admin.action(description="Revoke the selected invitations")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        for invitation in queryset:
            accounts.revoke_invitation(invitation=invitation)
        messages.success(request, "Revoked.")
