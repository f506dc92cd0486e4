"""An upstream's TLS, edited on the upstream's own admin page (an inline)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils import timezone

from mgmt.gateway.models import Upstream
from mgmt.gateway.validators import validate_hostname
from mgmt.tls.models import UpstreamTls
from mgmt.tls.pem_checks import CertificateProblem, check_ca_bundle


class UpstreamTlsForm(forms.ModelForm[UpstreamTls]):
    class Meta:
        model = UpstreamTls
        fields = ("sni", "verify", "ca_bundle_pem", "http2")

    def clean_sni(self) -> str:
        sni = str(self.cleaned_data.get("sni") or "").strip().lower()
        if sni:
            validate_hostname(sni)
        return sni

    def clean_ca_bundle_pem(self) -> str:
        bundle = str(self.cleaned_data.get("ca_bundle_pem") or "")
        if not bundle.strip():
            return ""
        try:
            return check_ca_bundle(bundle, now=timezone.now())
        except CertificateProblem as problem:
            raise forms.ValidationError(str(problem)) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("verify", True) and cleaned.get("ca_bundle_pem"):
            self.add_error("ca_bundle_pem", "a CA bundle is only used when verifying")
        return cleaned


class UpstreamTlsInline(admin.StackedInline[UpstreamTls, Upstream]):
    model = UpstreamTls
    form = UpstreamTlsForm
    extra = 0
    max_num = 1
    verbose_name = "TLS to this upstream"
    verbose_name_plural = "TLS to this upstream (none: plain HTTP)"
