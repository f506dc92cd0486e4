"""Admin of caller identities: API owners set up token issuers and map their clients to
applications; client certificates are listed (with expiry warnings) and can be revoked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from mgmt.identity import services
from mgmt.identity.admin_forms import ClientCertificateAddForm, TokenClientForm, TokenIssuerForm
from mgmt.identity.models import ClientCertificate, TokenClient, TokenIssuer

# Warned about in the list this long before expiry, as for the gateway's own certificates.
EXPIRY_WARNING = timedelta(days=30)


class TokenClientInline(admin.TabularInline[TokenClient, TokenIssuer]):
    model = TokenClient
    form = TokenClientForm
    extra = 1
    fields = ("client_id", "application", "created_at", "revoked_at", "revoke")
    readonly_fields = ("created_at", "revoked_at")
    autocomplete_fields = ("application",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TokenClient]:
        return super().get_queryset(request).select_related("application", "issuer")


@admin.register(TokenIssuer)
class TokenIssuerAdmin(admin.ModelAdmin[TokenIssuer]):
    form = TokenIssuerForm
    list_display = ("name", "issuer", "keys_from", "enabled", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("name", "issuer")
    filter_horizontal = ("apis",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "issuer", "audiences", "enabled", "apis")}),
        ("Keys", {"fields": ("jwks_uri", "jwks_json", "jwks_cache_seconds")}),
        ("Tokens", {"fields": ("algorithms", "leeway_seconds", "client_claims")}),
        (None, {"fields": ("created_at", "updated_at")}),
    )
    inlines = (TokenClientInline,)

    @admin.display(description="keys from")
    def keys_from(self, issuer: TokenIssuer) -> str:
        return issuer.jwks_uri or "inline JWKS"


def expiry_text(not_after: datetime | None, now: datetime) -> str:
    if not_after is None:
        return "unknown (registered by fingerprint)"
    left = not_after - now
    if left <= timedelta(0):
        return f"EXPIRED on {not_after:%Y-%m-%d %H:%M} UTC"
    if left <= EXPIRY_WARNING:
        return f"expires in {left.days} days ({not_after:%Y-%m-%d})"
    return f"{not_after:%Y-%m-%d}"


@admin.action(description="Revoke the selected client certificates")
def revoke_certificates(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[ClientCertificate]
) -> None:
    count = 0
    for certificate in queryset.filter(revoked_at__isnull=True):
        services.revoke_client_certificate(certificate=certificate)
        count += 1
    messages.success(request, f"{count} client certificate(s) revoked.")


@admin.register(ClientCertificate)
class ClientCertificateAdmin(admin.ModelAdmin[ClientCertificate]):
    list_display = ("__str__", "application", "fingerprint", "subject", "expiry", "state")
    list_select_related = ("application__organization",)
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "subject", "application__name", "application__public_id")
    actions = (revoke_certificates,)
    readonly_fields = (
        "application",
        "fingerprint",
        "subject",
        "expiry",
        "state",
        "certificate_pem",
        "created_at",
        "revoked_at",
    )
    autocomplete_fields = ("application",)

    def get_form(
        self,
        request: HttpRequest,
        obj: ClientCertificate | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[ModelForm[ClientCertificate]]:
        if obj is None:
            kwargs["form"] = ClientCertificateAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ClientCertificate | None = None) -> Any:
        if obj is None:
            return ("application", "name", "certificate_pem_text", "fingerprint")
        return ("name", *self.readonly_fields)

    def get_readonly_fields(
        self, request: HttpRequest, obj: ClientCertificate | None = None
    ) -> Any:
        return self.readonly_fields if obj is not None else ()

    def save_model(
        self, request: HttpRequest, obj: ClientCertificate, form: Any, change: bool
    ) -> None:
        if change:  # only the name is editable; an add was saved by the form's service call
            super().save_model(request, obj, form, change)

    @admin.display(description="SHA-256 fingerprint")
    def fingerprint(self, certificate: ClientCertificate) -> str:
        return certificate.fingerprint_hex()

    @admin.display(description="expires", ordering="not_after")
    def expiry(self, certificate: ClientCertificate) -> str:
        return expiry_text(certificate.not_after, timezone.now())

    @admin.display(description="state")
    def state(self, certificate: ClientCertificate) -> str:
        return certificate.state()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        now = timezone.now()
        soon = (
            ClientCertificate.objects.filter(
                revoked_at__isnull=True, not_after__lte=now + EXPIRY_WARNING, not_after__gt=now
            )
            .select_related("application")
            .order_by("not_after")[:20]
        )
        for certificate in soon:
            messages.warning(
                request,
                f'Client certificate "{certificate}" of {certificate.application} '
                f"{expiry_text(certificate.not_after, now)}.",
            )
        return super().changelist_view(request, extra_context)
