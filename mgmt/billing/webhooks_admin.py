"""Admin for billing webhooks: API owners add endpoints (the signing secret is shown once,
on the page that answers the creation, and never again), read the events and the delivery
log, and send a failed delivery again.

Staff see the endpoints, events and deliveries of the organizations they are an owner or
billing member of (the roles that see billing); superusers see all. Registered on import:
mgmt.billing.admin imports this module.
"""

from typing import Any, Final

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.related import ForeignKey
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from mgmt.billing.access import billing_organizations, scoped
from mgmt.billing.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from mgmt.billing.webhook_delivery import body_of
from mgmt.billing.webhook_endpoints import (
    EVENT_TYPES,
    WebhookEndpointError,
    checked_event_types,
    checked_url,
    create_endpoint,
    rotate_secret,
)

# Rendered into the one response that answers the creation (or a rotation): never put in a
# message, which the cookie or session storage would keep beyond this page.
_SECRET_PAGE: Final = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block content %}
<h1>{{ title }}</h1>
<p><strong>Copy this signing secret now.</strong> Tollgate will not show it again; if it is
lost, rotate it (an action on the list of endpoints).</p>
<p><code id="webhook-secret" style="font-size:1.2em">{{ secret }}</code></p>
<p>Deliveries to <code>{{ endpoint.url }}</code> ({{ endpoint.organization }}) are signed with
it, Standard Webhooks style: check the <code>webhook-signature</code> header.</p>
<p><a href="{% url 'admin:billing_webhookendpoint_change' endpoint.pk %}">Go to the endpoint</a>
 · <a href="{% url 'admin:billing_webhookendpoint_changelist' %}">All endpoints</a></p>
{% endblock %}"""
)


def _secret_page(
    request: HttpRequest, endpoint: WebhookEndpoint, secret: str, title: str
) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "endpoint": endpoint,
        "secret": secret,
        "title": title,
        "opts": WebhookEndpoint._meta,
    }
    response = TemplateResponse(request, _SECRET_PAGE, context)
    response["Cache-Control"] = "no-store"
    return response


def _body(event: WebhookEvent) -> SafeString:
    return format_html("<pre>{}</pre>", body_of(event.payload).decode("utf-8"))


class WebhookEndpointForm(forms.ModelForm[WebhookEndpoint]):
    """The endpoint with its URL checked as the delivery checks it, and event types ticked."""

    # A URL typed without a scheme is taken as https, the only one allowed in production.
    url = forms.URLField(
        max_length=WebhookEndpoint._meta.get_field("url").max_length,
        assume_scheme="https",
        help_text="https only; the host must resolve to public addresses.",
    )
    event_types = forms.MultipleChoiceField(
        choices=[(each, each) for each in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every billing event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("organization", "url", "event_types", "active")

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if self.instance.pk is not None and url == self.instance.url:
            return url  # unchanged: saving `active` must not hinge on today's DNS answer
        try:
            return checked_url(url)
        except WebhookEndpointError as refused:
            raise ValidationError(str(refused)) from None

    def clean_event_types(self) -> list[str]:
        try:
            return checked_event_types(self.cleaned_data["event_types"])
        except WebhookEndpointError as refused:
            raise ValidationError(str(refused)) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    form = WebhookEndpointForm
    list_display = ("url", "organization", "active", "last_delivery_state", "created_at")
    list_select_related = ("organization",)
    list_filter = ("active", ("organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("url", "organization__name")
    readonly_fields = ("created_at", "signing_secret")
    actions = ("rotate",)

    def get_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        fields = ("organization", "url", "event_types", "active")
        return fields if obj is None else (*fields, "signing_secret", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> Any:
        # An endpoint never moves to another organization: its events are that one's.
        return self.readonly_fields if obj is None else ("organization", *self.readonly_fields)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        latest = WebhookDelivery.objects.filter(endpoint=OuterRef("pk")).order_by(
            "-event__created_at", "-pk"
        )
        rows = (
            super()
            .get_queryset(request)
            .annotate(last_delivery_state=Subquery(latest.values("state")[:1]))
        )
        return scoped(request, rows, "organization")

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "organization":
            organizations = billing_organizations(request)
            if organizations is not None:
                kwargs["queryset"] = organizations
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="last delivery", ordering="last_delivery_state")
    def last_delivery_state(self, endpoint: WebhookEndpoint) -> str:
        return str(getattr(endpoint, "last_delivery_state", None) or "—")

    @admin.display(description="signing secret")
    def signing_secret(self, endpoint: WebhookEndpoint) -> str:
        return "Shown once when the endpoint was created; rotate it for a new one."

    def save_model(
        self,
        request: HttpRequest,
        obj: WebhookEndpoint,
        form: forms.ModelForm[WebhookEndpoint],
        change: bool,
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, secret = create_endpoint(
            obj.organization, obj.url, obj.event_types, active=obj.active
        )
        obj.pk, obj.secret, obj.created_at = created.pk, created.secret, created.created_at
        request.tollgate_webhook_secret = secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None
    ) -> HttpResponse:
        secret = getattr(request, "tollgate_webhook_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return _secret_page(request, obj, secret, "Webhook endpoint created")

    @admin.action(description="Rotate the signing secret (one endpoint)", permissions=["change"])
    def rotate(
        self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]
    ) -> HttpResponse | None:
        chosen = list(queryset.select_related("organization")[:2])
        if len(chosen) != 1:
            messages.error(request, "Select exactly one endpoint: each new secret is shown once.")
            return None
        secret = rotate_secret(chosen[0])
        return _secret_page(request, chosen[0], secret, "Signing secret rotated")


class ReadOnly:
    """Rows written by the billing jobs (events, deliveries, invoices' parts) are read in
    admin, never written there."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryInline(ReadOnly, admin.TabularInline[WebhookDelivery, WebhookEvent]):
    model = WebhookDelivery
    extra = 0
    fields = ("endpoint", "state", "attempts", "last_status", "next_attempt_at", "delivered_at")
    readonly_fields = fields
    show_change_link = True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("billing.view_webhookevent")  # part of the event's page


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnly, admin.ModelAdmin[WebhookEvent]):
    list_display = ("id", "type", "subject", "organization", "created_at", "deliveries_summary")
    list_select_related = ("organization",)
    list_filter = ("type",)
    search_fields = ("id", "subject")
    date_hierarchy = "created_at"
    fields = ("id", "organization", "type", "subject", "created_at", "body")
    readonly_fields = fields
    inlines = (DeliveryInline,)

    @admin.display(description="body (as sent)")
    def body(self, event: WebhookEvent) -> SafeString:
        return _body(event)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEvent]:
        counts = {
            f"deliveries_{state}": Count("deliveries", filter=Q(deliveries__state=state))
            for state in WebhookDelivery.State.values
        }
        return scoped(request, super().get_queryset(request).annotate(**counts), "organization")

    @admin.display(description="deliveries")
    def deliveries_summary(self, event: WebhookEvent) -> str:
        parts = [
            f"{count} {state}"
            for state in WebhookDelivery.State.values
            if (count := getattr(event, f"deliveries_{state}", 0))
        ]
        return ", ".join(parts) or "none (no endpoint wanted it)"


class AttemptInline(ReadOnly, admin.TabularInline[DeliveryAttempt, WebhookDelivery]):
    model = DeliveryAttempt
    extra = 0
    fields = ("at", "status", "error", "duration_ms", "response_excerpt")
    readonly_fields = fields
    verbose_name_plural = "attempts (newest first)"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("billing.view_webhookdelivery")  # the delivery's own log


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly, admin.ModelAdmin[WebhookDelivery]):
    list_display = (
        "event",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "next_attempt_at",
        "delivered_at",
    )
    list_select_related = ("event", "endpoint")
    list_filter = ("state",)
    search_fields = ("event__id", "event__subject", "endpoint__url")
    fields = (
        "event",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "payload",
    )
    readonly_fields = fields
    inlines = (AttemptInline,)
    actions = ("retry_now",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return scoped(request, super().get_queryset(request), "endpoint__organization")

    @admin.display(description="body (as sent)")
    def payload(self, delivery: WebhookDelivery) -> SafeString:
        return _body(delivery.event)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_webhookdelivery")

    @admin.action(description="Retry now (pending and failed ones)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        # A failed delivery gets one more attempt: the schedule gives up again if it fails.
        retried = (
            queryset.exclude(state=WebhookDelivery.State.DELIVERED)
            .order_by()
            .update(state=WebhookDelivery.State.PENDING, next_attempt_at=timezone.now())
        )
        messages.success(
            request,
            f"{retried} queued: the next delivery sweep sends them (delivered ones are left "
            "as they are; an inactive endpoint's wait until it is active again).",
        )
