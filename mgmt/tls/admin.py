"""Admin for the gateway's certificates: upload, rotate, and see what expires soon.

Certificates are gateway-wide, so only users with the model's permissions (platform
operators) see them; API owners do not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from mgmt.tls.forms import ServerCertificateForm
from mgmt.tls.models import ServerCertificate, UpstreamTls

# Warned about in the list this long before expiry (Let's Encrypt renews at 30 days left).
EXPIRY_WARNING = timedelta(days=30)


def expiry_text(not_after: datetime, now: datetime) -> str:
    left = not_after - now
    if left <= timedelta(0):
        return f"EXPIRED on {not_after:%Y-%m-%d %H:%M} UTC"
    if left <= EXPIRY_WARNING:
        return f"expires in {left.days} days ({not_after:%Y-%m-%d})"
    return f"{not_after:%Y-%m-%d}"


@admin.register(ServerCertificate)
class ServerCertificateAdmin(admin.ModelAdmin[ServerCertificate]):
    form = ServerCertificateForm
    list_display = ("name", "hostname_list", "expiry", "key_type", "enabled", "rotated_at")
    list_filter = ("enabled",)
    search_fields = ("name", "hostnames", "fingerprint_sha256")
    readonly_fields = (
        "hostname_list",
        "fingerprint_sha256",
        "subject",
        "issuer",
        "key_type",
        "not_before",
        "expiry",
        "rotated_at",
    )

    def get_fields(self, request: HttpRequest, obj: ServerCertificate | None = None) -> Any:
        upload = ("certificate_chain", "private_key", "key_password")
        files = ("chain_file", "key_file", "hostnames_text")
        if obj is None:
            return ("name", "enabled", *upload, *files)
        return ("name", "enabled", *self.readonly_fields, *upload, *files)

    def save_model(
        self, request: HttpRequest, obj: ServerCertificate, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if getattr(form, "unchecked_hostnames", None) is not None:
            messages.warning(
                request,
                f'Certificate "{obj.name}": mgmt cannot read {obj.chain_file} and {obj.key_file} '
                "here, so they were not checked. Envoy reads them on the gateway hosts; if they "
                "are missing or do not match, it refuses them and keeps its last good "
                "configuration (see the snapshot's status).",
            )

    def get_readonly_fields(
        self, request: HttpRequest, obj: ServerCertificate | None = None
    ) -> Any:
        # The name is what the sealed key is bound to, and what Envoy's listener names.
        return ("name", *self.readonly_fields) if obj is not None else self.readonly_fields

    @admin.display(description="hostnames")
    def hostname_list(self, cert: ServerCertificate) -> str:
        return ", ".join(cert.hostnames)

    @admin.display(description="expires", ordering="not_after")
    def expiry(self, cert: ServerCertificate) -> str:
        if cert.not_after is None:
            return "not checked (files mgmt cannot read)" if cert.from_files else "—"
        return expiry_text(cert.not_after, timezone.now())

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        now = timezone.now()
        for cert in ServerCertificate.objects.filter(
            enabled=True, not_after__lte=now + EXPIRY_WARNING
        ).order_by("not_after"):
            assert cert.not_after is not None  # filtered on it
            messages.warning(
                request, f'Certificate "{cert.name}" {expiry_text(cert.not_after, now)}.'
            )
        # The client certificates presented to upstreams expire too, and are listed nowhere else.
        for tls in (
            UpstreamTls.objects.filter(client_not_after__lte=now + EXPIRY_WARNING)
            .select_related("upstream")
            .order_by("client_not_after")
        ):
            assert tls.client_not_after is not None
            messages.warning(
                request,
                f'The TLS client certificate of upstream "{tls.upstream.name}" '
                f"{expiry_text(tls.client_not_after, now)}.",
            )
        return super().changelist_view(request, extra_context)
