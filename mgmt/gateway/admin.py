"""Django admin for API owners: the catalog and access here; the version lifecycle in
lifecycle_admin and lifecycle_records_admin, and what the gateway did with it in
status_admin. Every admin class is registered from this module."""

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelChoiceField, ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from mgmt.gateway import services
from mgmt.gateway.developers_admin import (
    DOCUMENTATION_FIELDSET,
    AccessTokenAdmin,
    DeveloperAccountAdmin,
    InvitationAdmin,
    InvitationInline,
    LimitRequestAdmin,
    MembershipAdmin,
    MembershipInline,
    OpenApiDocumentForm,
    approve_subscriptions,
    reject_subscriptions,
)
from mgmt.gateway.forms import RateLimitFormSet
from mgmt.gateway.lifecycle_admin import VersionLifecycleAdmin
from mgmt.gateway.lifecycle_records_admin import LifecycleEventAdmin, LifecycleNoticeAdmin
from mgmt.gateway.models import (
    AccessToken,
    Api,
    ApiKey,
    ApiVersion,
    Application,
    DeveloperAccount,
    Endpoint,
    Invitation,
    LifecycleEvent,
    LifecycleNotice,
    LimitRequest,
    Membership,
    NodeCondition,
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
from mgmt.gateway.status_admin import (
    NodeConditionAdmin,
    SnapshotAdmin,
    SnapshotRejectionAdmin,
    XdsNodeStatusAdmin,
)
from mgmt.tls.upstream_admin import UpstreamTlsInline


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "slug", "contact_email", "created_at")
    search_fields = ("name", "slug", "contact_email")
    inlines = (MembershipInline, InvitationInline)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin[Product]):
    list_display = ("name", "slug", "organization")
    list_select_related = ("organization",)
    list_filter = ("organization",)
    search_fields = ("name", "slug")


class ApiVersionInline(admin.TabularInline[ApiVersion, Api]):
    model = ApiVersion
    fk_name = "api"
    extra = 0
    fields = ("version", "path_prefix", "lifecycle", "sunset_at", "successor")
    # New rows start as drafts; lifecycle changes are made on the version's own page.
    readonly_fields = ("lifecycle", "sunset_at", "successor")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiVersion]:
        return super().get_queryset(request).select_related("api", "successor__api")


@admin.register(Api)
class ApiAdmin(admin.ModelAdmin[Api]):
    list_display = (
        "name",
        "slug",
        "base_path",
        "hostnames",
        "version_header",
        "default_version",
        "product",
        "organization",
    )
    list_select_related = ("product", "organization", "default_version__api")
    list_filter = ("organization", "product")
    search_fields = ("name", "slug", "hostnames", "base_path")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "organization",
                    "product",
                    "name",
                    "slug",
                    "hostnames",
                    "base_path",
                    "description",
                )
            },
        ),
        ("Versions", {"fields": ("version_header", "default_version")}),
    )
    inlines = (ApiVersionInline,)

    def get_form(
        self, request: HttpRequest, obj: Api | None = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm[Api]]:
        form = super().get_form(request, obj, change=change, **kwargs)
        default = form.base_fields.get("default_version")
        if isinstance(default, ModelChoiceField):
            # Only this API's own versions; a new API has none until it is saved.
            if obj is None:
                default.queryset = ApiVersion.objects.none()
                default.help_text = "Save the API with its versions first, then pick one here."
            else:
                default.queryset = obj.versions.select_related("api")
        return form


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
        "required_scopes",
    )
    autocomplete_fields = ("upstream",)


@admin.register(ApiVersion)
class ApiVersionAdmin(VersionLifecycleAdmin):
    form = OpenApiDocumentForm

    def get_fieldsets(self, request: HttpRequest, obj: ApiVersion | None = None) -> Any:
        return [*super().get_fieldsets(request, obj), DOCUMENTATION_FIELDSET]

    inlines = (RouteInline,)


admin.site.register(LifecycleEvent, LifecycleEventAdmin)
admin.site.register(LifecycleNotice, LifecycleNoticeAdmin)


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
    inlines = (EndpointInline, UpstreamTlsInline)

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
    list_display = ("name", "slug", "product", "public", "requires_approval", "quota_requests")
    list_select_related = ("product",)
    list_filter = ("product", "public", "requires_approval")
    search_fields = ("name", "slug")
    fieldsets = (
        (
            None,
            {"fields": ("product", "name", "slug", "public", "requires_approval", "description")},
        ),
        (
            "Quota",
            {
                "fields": ("quota_requests", "quota_period", "quota_shadow"),
                "description": "Calls per billing period, counted from each subscription's "
                "start. Shadow: counted and reported, never enforced.",
            },
        ),
        ("Scopes", {"fields": ("granted_scopes",)}),
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
    list_display = ("name", "organization", "public_id", "contact_email", "created_at")
    list_select_related = ("organization",)
    list_filter = ("organization",)
    search_fields = ("name", "public_id", "organization__name", "contact_email")
    readonly_fields = ("public_id", "notices_go_to")
    inlines = (SubscriptionInline, ApiKeyInline)

    @admin.display(description="lifecycle notices go to")
    def notices_go_to(self, application: Application) -> str:
        if application.pk is None:
            return "—"
        return (
            application.notice_recipient()
            or "nobody: no contact address here or on its organization"
        )


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
    actions = (approve_subscriptions, reject_subscriptions)


admin.site.register(Snapshot, SnapshotAdmin)
admin.site.register(SnapshotRejection, SnapshotRejectionAdmin)
admin.site.register(XdsNodeStatus, XdsNodeStatusAdmin)
admin.site.register(NodeCondition, NodeConditionAdmin)
admin.site.register(LimitRequest, LimitRequestAdmin)
admin.site.register(AccessToken, AccessTokenAdmin)
admin.site.register(Membership, MembershipAdmin)
admin.site.register(DeveloperAccount, DeveloperAccountAdmin)
admin.site.register(Invitation, InvitationAdmin)
