"""An upstream's TLS, edited on the upstream's own admin page (an inline): SNI, the CAs, HTTP/2,
and the client certificate presented to an upstream that asks for one (mTLS), its key sealed
and never shown again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils import timezone

from mgmt.compiler.upstream_tls import client_secret_name
from mgmt.gateway.models import Upstream
from mgmt.gateway.validators import validate_hostname
from mgmt.tls.admin import expiry_text
from mgmt.tls.forms import WriteOnlyTextarea
from mgmt.tls.models import UpstreamTls
from mgmt.tls.pem_checks import (
    CHAIN,
    KEY,
    CertificateProblem,
    CheckedCertificate,
    check_ca_bundle,
    check_client_certificate,
)
from mgmt.tls.sealing_key import NoSealingKey, sealing_key
from xds_server import sealing

CLIENT_CHAIN = "client_certificate_chain"
CLIENT_KEY = "client_private_key"
_FIELD_OF = {CHAIN: CLIENT_CHAIN, KEY: CLIENT_KEY}


class UpstreamTlsForm(forms.ModelForm[UpstreamTls]):
    client_certificate_chain = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        required=False,
        label="Client certificate",
        help_text="Only for an upstream that asks for a client certificate (mTLS). PEM: the "
        "gateway's certificate first, then its intermediates.",
    )
    client_private_key = forms.CharField(
        widget=WriteOnlyTextarea(attrs={"rows": 5, "cols": 80, "autocomplete": "off"}),
        required=False,
        strip=False,
        label="Client certificate's private key",
        help_text="PEM (PKCS#1, PKCS#8 or SEC1). Stored sealed; never shown again.",
    )
    client_key_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        label="Private key's password",
        help_text="Only for an encrypted private key.",
    )
    remove_client_certificate = forms.BooleanField(
        required=False, help_text="Present no client certificate to this upstream any more."
    )

    class Meta:
        model = UpstreamTls
        fields = ("sni", "verify", "ca_bundle_pem", "http2")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked_client: CheckedCertificate | None = None
        if self.instance.pk is not None and self.instance.has_client_certificate:
            self.fields[CLIENT_CHAIN].help_text = (
                "To rotate: the new chain and its key, or the chain alone when it was renewed "
                "for the same key. Leave both empty to keep the current ones."
            )

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
        self._clean_client_certificate(cleaned)
        return cleaned

    def _clean_client_certificate(self, cleaned: dict[str, Any]) -> None:
        chain, key = cleaned.get(CLIENT_CHAIN, ""), cleaned.get(CLIENT_KEY, "")
        if cleaned.get("remove_client_certificate"):
            if chain or key:
                self.add_error(
                    "remove_client_certificate", "remove the client certificate or upload one"
                )
            return
        if not chain:
            if key:
                self.add_error(CLIENT_CHAIN, "Give the certificate chain (PEM) with its key.")
            return
        try:
            sealing_bytes = sealing_key()
        except NoSealingKey as exc:
            self.add_error(CLIENT_CHAIN, str(exc))
            return
        password = cleaned.get("client_key_password") or None
        kept = not key
        if kept:
            key = self._stored_key(sealing_bytes)
            if not key:
                return
            password = None
        try:
            self.checked_client = check_client_certificate(
                chain, key, now=timezone.now(), password=password.encode() if password else None
            )
        except CertificateProblem as problem:
            if kept and problem.field == KEY:
                self.add_error(
                    CLIENT_CHAIN,
                    "this certificate is not for the stored private key: give its key too",
                )
            else:
                self.add_error(_FIELD_OF[problem.field], str(problem))

    def _stored_key(self, sealing_bytes: bytes) -> str:
        """The stored key, for a chain renewed for it; "" (with the error given) if none."""
        tls = self.instance
        if tls.pk is None or not tls.has_client_certificate:
            self.add_error(CLIENT_KEY, "Give the certificate's private key (PEM).")
            return ""
        try:
            return sealing.open_sealed(
                sealing_bytes, client_secret_name(tls.upstream_id), bytes(tls.client_sealed_key)
            ).decode()
        except sealing.SealingError:
            self.add_error(
                CLIENT_KEY,
                "the stored private key does not open with TOLLGATE_SECRETS_KEY_FILE "
                "(was the key file replaced?): give the key again",
            )
            return ""

    def save(self, commit: bool = True) -> UpstreamTls:
        tls = super().save(commit=False)
        if self.cleaned_data.get("remove_client_certificate"):
            tls.remove_client_certificate()
        elif self.checked_client is not None:
            _apply_client(tls, self.checked_client)
        if commit:
            tls.save()
        return tls


def _apply_client(tls: UpstreamTls, checked: CheckedCertificate) -> None:
    # The inline formset has set the upstream by now, on an upstream being added too.
    assert tls.upstream_id is not None
    tls.client_chain_pem = checked.chain_pem
    tls.client_sealed_key = sealing.seal(
        sealing_key(), client_secret_name(tls.upstream_id), checked.key_pem
    )
    tls.client_subject = checked.subject[:500]
    tls.client_fingerprint_sha256 = checked.fingerprint_sha256
    tls.client_not_after = checked.not_after


class UpstreamTlsInline(admin.StackedInline[UpstreamTls, Upstream]):
    model = UpstreamTls
    form = UpstreamTlsForm
    extra = 0
    max_num = 1
    verbose_name = "TLS to this upstream"
    verbose_name_plural = "TLS to this upstream (none: plain HTTP)"
    fields = (
        "sni",
        "verify",
        "ca_bundle_pem",
        "http2",
        "client_certificate",
        CLIENT_CHAIN,
        CLIENT_KEY,
        "client_key_password",
        "remove_client_certificate",
    )
    readonly_fields = ("client_certificate",)

    @admin.display(description="client certificate presented")
    def client_certificate(self, tls: UpstreamTls) -> str:
        if not tls.has_client_certificate or tls.client_not_after is None:
            return "none"
        expiry = expiry_text(tls.client_not_after, timezone.now())
        return (
            f"Subject: {tls.client_subject}. Expiry: {expiry}. "
            f"SHA-256: {tls.client_fingerprint_sha256}."
        )
