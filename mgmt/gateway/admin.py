"""Django admin for API owners: the catalog, access, and what the gateway did with it."""

from typing import Any

from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from mgmt.gateway import services
from mgmt.gateway.forms import RateLimitFormSet
from mgmt.gateway.models import (
    Api,
    ApiKey,
    ApiVersion,
    Application,
    Endpoint,
    Organization,
    Plan,
    PlanRateLimit,
    Product,
    Route,
    Snapshot,
    SnapshotRejection,
    Subscription,
    SubscriptionRateLimit,
    Upstream,
    XdsNodeStatus,
)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ("name", "slug", "organization")
    list_select_related = ("organization",)
    list_filter = ("organization",)
    search_fields = ("name", "slug")


# A URL typed without a scheme means https (Django 6's default, chosen now).
_URLS_ASSUME_HTTPS: Any = {models.URLField: {"assume_scheme": "https"}}


class ApiVersionInline(admin.TabularInline[ApiVersion, Api]):
    model = ApiVersion
    formfield_overrides = _URLS_ASSUME_HTTPS
    fk_name = "api"
    extra = 0
    fields = ("version", "path_prefix", "lifecycle", "sunset_at", "successor")
    show_change_link = True


@admin.register(Api)
class ApiAdmin(admin.ModelAdmin[Api]):
    list_display = ("name", "slug", "base_path", "hostnames", "product", "organization")
    list_select_related = ("product", "organization")
    list_filter = ("organization", "product")
    search_fields = ("name", "slug", "hostnames", "base_path")
    inlines = (ApiVersionInline,)


class RouteInline(admin.TabularInline[Route, ApiVersion]):
    model = Route
    extra = 0
    fields = (
        "position",
        "match_type",
        "path",
        "methods",
        "upstream",
        "timeout_ms",
        "cost",
        "rate_limit_failure",
    )
    autocomplete_fields = ("upstream",)


@admin.register(ApiVersion)
class ApiVersionAdmin(admin.ModelAdmin[ApiVersion]):
    formfield_overrides = _URLS_ASSUME_HTTPS
    list_display = ("api", "version", "lifecycle", "sunset_at", "successor")
    list_select_related = ("api", "successor__api")
    list_filter = ("lifecycle", "api")
    search_fields = ("api__name", "version")
    inlines = (RouteInline,)


@admin.register(Route)
class RouteAdmin(admin.ModelAdmin[Route]):
    list_display = (
        "__str__",
        "api_version",
        "methods",
        "upstream",
        "timeout_ms",
        "cost",
        "rate_limit_failure",
        "position",
    )
    list_select_related = ("api_version__api", "upstream")
    list_filter = ("match_type", "rate_limit_failure", "api_version__api")
    search_fields = ("path", "api_version__api__name")
    autocomplete_fields = ("upstream",)


class EndpointInline(admin.TabularInline[Endpoint, Upstream]):
    model = Endpoint
    extra = 1


@admin.register(Upstream)
class UpstreamAdmin(admin.ModelAdmin[Upstream]):
    list_display = ("name", "lb_policy", "endpoint_list", "health_check_path", "organization")
    list_select_related = ("organization",)
    list_filter = ("lb_policy", "organization")
    search_fields = ("name", "endpoints__host")
    inlines = (EndpointInline,)

    @admin.display(description="endpoints")
    def endpoint_list(self, upstream: Upstream) -> str:
        return ", ".join(str(e) for e in upstream.endpoints.all())

    def get_queryset(self, request: HttpRequest) -> QuerySet[Upstream]:
        return super().get_queryset(request).prefetch_related("endpoints")


_LIMIT_FIELDS = ("requests", "unit_multiplier", "unit", "algorithm", "shadow")


class PlanRateLimitInline(admin.TabularInline[PlanRateLimit, Plan]):
    model = PlanRateLimit
    formset = RateLimitFormSet
    extra = 0
    fields = _LIMIT_FIELDS
    verbose_name_plural = "rate limits (one per window length)"


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin[Plan]):
    list_display = ("name", "slug", "product", "requires_approval", "quota_requests")
    list_select_related = ("product",)
    list_filter = ("product", "requires_approval")
    search_fields = ("name", "slug")
    fieldsets = (
        (None, {"fields": ("product", "name", "slug", "requires_approval", "description")}),
        (
            "Quota",
            {
                "fields": ("quota_requests", "quota_period", "quota_shadow"),
                "description": "Calls per billing period, counted from each subscription's "
                "start. Shadow: counted and reported, never enforced.",
            },
        ),
    )
    inlines = (PlanRateLimitInline,)


class SubscriptionInline(admin.TabularInline[Subscription, Application]):
    model = Subscription
    extra = 0
    fields = ("product", "plan", "state", "started_at")
    show_change_link = True  # limit overrides are edited on the subscription's own page


class ApiKeyInline(admin.TabularInline[ApiKey, Application]):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("__str__", "label", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin[Application]):
    list_display = ("name", "organization", "public_id", "created_at")
    list_select_related = ("organization",)
    list_filter = ("organization",)
    search_fields = ("name", "public_id", "organization__name")
    readonly_fields = ("public_id",)
    inlines = (SubscriptionInline, ApiKeyInline)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = (
        "__str__",
        "application",
        "label",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_select_related = ("application",)
    list_filter = ("revoked_at", "expires_at")
    search_fields = ("key_id", "label", "application__name")
    readonly_fields = ("key_id", "created_at", "revoked_at", "last_used_at")
    fields = (
        "application",
        "label",
        "expires_at",
        "key_id",
        "created_at",
        "revoked_at",
        "last_used_at",
    )
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        # A key never moves to another application (or tenant) once issued.
        if obj is not None:
            return ("application", *self.readonly_fields)
        return self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: ModelForm[ApiKey], change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = services.create_api_key(
            application=obj.application, label=obj.label, expires_at=obj.expires_at
        )
        obj.pk = issued.api_key.pk
        obj.key_id = issued.api_key.key_id
        # Rendered straight into this response: never in a message cookie or the session.
        request.tollgate_issued_secret = issued.secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        secret = getattr(request, "tollgate_issued_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "api_key": obj,
            "secret": secret,
            "opts": self.model._meta,
            "title": "API key issued",
        }
        response = TemplateResponse(request, "admin/gateway/apikey/issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected keys now")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        now = timezone.now()
        with transaction.atomic():  # one commit, one snapshot, however many keys
            for api_key in queryset.filter(revoked_at__isnull=True):
                services.revoke_api_key(api_key=api_key, at=now)
        messages.success(request, "Revoked; the gateway refuses them within seconds.")


class SubscriptionRateLimitInline(admin.TabularInline[SubscriptionRateLimit, Subscription]):
    model = SubscriptionRateLimit
    formset = RateLimitFormSet
    extra = 0
    fields = _LIMIT_FIELDS
    verbose_name_plural = (
        "rate limit overrides (replace the plan's limit of the same window length, or add a window)"
    )


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin[Subscription]):
    list_display = ("application", "product", "plan", "state", "started_at", "quota_requests")
    list_select_related = ("application", "product", "plan")
    list_filter = ("state", "product", "plan")
    search_fields = ("application__name", "product__name")
    fieldsets = (
        (None, {"fields": ("application", "product", "plan", "state", "started_at")}),
        (
            "Quota override",
            {
                "fields": ("quota_requests",),
                "description": "Empty: the plan's quota. Rate-limit overrides are below.",
            },
        ),
    )
    inlines = (SubscriptionRateLimitInline,)


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin[Snapshot]):
    list_display = ("id", "short_version", "status", "created_at", "summary", "rejected")
    list_filter = ("status",)
    search_fields = ("version",)
    readonly_fields = ("version", "status", "created_at", "summary", "errors", "rejection_list")
    fields = readonly_fields

    @admin.display(description="version")
    def short_version(self, snapshot: Snapshot) -> str:
        return snapshot.version[:12] or "—"

    @admin.display(description="rejected by Envoy", boolean=True)
    def rejected(self, snapshot: Snapshot) -> bool:
        return snapshot.rejections().exists()

    @admin.display(description="rejections (Envoy's own messages)")
    def rejection_list(self, snapshot: Snapshot) -> SafeString:
        rows = snapshot.rejections()
        if not rows:
            return format_html("{}", "none")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><b>{}</b> ({}) at {}: <code>{}</code></li>",
                ((r.node_id, r.type_url.rsplit(".", 1)[-1], r.at, r.error) for r in rows),
            ),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SnapshotRejection)
class SnapshotRejectionAdmin(admin.ModelAdmin[SnapshotRejection]):
    list_display = ("at", "node_id", "type_url", "version", "error")
    list_filter = ("type_url", "node_cluster")
    search_fields = ("node_id", "version", "error")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(XdsNodeStatus)
class XdsNodeStatusAdmin(admin.ModelAdmin[XdsNodeStatus]):
    list_display = (
        "node_id",
        "node_cluster",
        "type_url",
        "acked_version",
        "nacked_version",
        "updated_at",
    )
    list_filter = ("node_cluster", "type_url")
    search_fields = ("node_id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
