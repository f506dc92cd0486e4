"""The portal's form to register a client certificate: PEM or fingerprint, checked by the
same service as the developer API's."""

from typing import Any

from django import forms

from mgmt.identity.client_cert_checks import MAX_PEM_CHARS


class CertificateTextarea(forms.Textarea):
    """Shows a refused certificate again, but never a private key pasted by mistake: the
    page must not carry it back through the browser, its cache and its history."""

    def format_value(self, value: Any) -> str | None:
        if value is not None and "PRIVATE KEY" in str(value):
            return None
        shown: str | None = super().format_value(value)
        return shown


class ClientCertificateForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, label="Certificate name")
    certificate_pem = forms.CharField(
        label="Certificate (PEM)",
        max_length=MAX_PEM_CHARS,
        required=False,
        strip=False,
        widget=CertificateTextarea(attrs={"rows": 8, "cols": 64, "spellcheck": "false"}),
        help_text="The client's own certificate, from -----BEGIN CERTIFICATE-----. "
        "Never its private key.",
    )
    fingerprint = forms.CharField(
        label="or its SHA-256 fingerprint",
        max_length=200,
        required=False,
        help_text="64 hex digits, colons allowed: openssl x509 -noout -fingerprint -sha256",
    )
