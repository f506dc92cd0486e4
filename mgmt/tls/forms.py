"""Upload and rotation of a server certificate: checked, then its key sealed; never echoed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from mgmt.compiler.tls import secret_name
from mgmt.tls.models import ServerCertificate
from mgmt.tls.pem_checks import CertificateProblem, CheckedCertificate, check_server_certificate
from mgmt.tls.sealing_key import NoSealingKey, sealing_key
from xds_server import sealing


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders what was typed in it: a form shown again with its
    errors must not send the private key back to the browser."""

    def format_value(self, value: Any) -> str | None:
        return None


class ServerCertificateForm(forms.ModelForm[ServerCertificate]):
    certificate_chain = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        required=False,
        help_text="PEM: the server's certificate first, then its intermediates.",
    )
    private_key = forms.CharField(
        widget=WriteOnlyTextarea(attrs={"rows": 6, "cols": 80, "autocomplete": "off"}),
        required=False,
        strip=False,
        help_text="PEM (PKCS#1, PKCS#8 or SEC1). Stored sealed; never shown again.",
    )
    key_password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        help_text="Only for an encrypted private key.",
    )

    class Meta:
        model = ServerCertificate
        fields = ("name", "enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked: CheckedCertificate | None = None
        if self.instance.pk is not None:
            self.fields[
                "certificate_chain"
            ].help_text = (
                "To rotate: the new chain and its key. Leave both empty to keep the current ones."
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chain, key = cleaned.get("certificate_chain", ""), cleaned.get("private_key", "")
        if self.instance.pk is not None and not chain and not key:
            return cleaned  # name/enabled only
        if not chain:
            self.add_error("certificate_chain", "Give the certificate chain (PEM).")
        if not key:
            self.add_error("private_key", "Give the certificate's private key (PEM).")
        if not chain or not key:
            return cleaned
        password = cleaned.get("key_password") or None
        try:
            self.checked = check_server_certificate(
                chain,
                key,
                now=timezone.now(),
                password=password.encode() if password else None,
            )
        except CertificateProblem as problem:
            self.add_error(problem.field, str(problem))
            return cleaned
        taken = _hostnames_taken(self.checked.hostnames, self.instance.pk)
        if taken:
            self.add_error("certificate_chain", taken)
        try:
            sealing_key()
        except NoSealingKey as exc:
            raise forms.ValidationError(str(exc)) from None
        return cleaned

    def save(self, commit: bool = True) -> ServerCertificate:
        cert = super().save(commit=False)
        if self.checked is not None:
            _apply(cert, self.checked)
        if commit:
            cert.save()
        return cert


def _hostnames_taken(hostnames: tuple[str, ...], own_pk: int | None) -> str:
    others = ServerCertificate.objects.exclude(pk=own_pk) if own_pk else ServerCertificate.objects
    for other in others.only("name", "hostnames"):
        shared = sorted(set(hostnames) & set(other.hostnames))
        if shared:
            return (
                f'{", ".join(shared)} already served by certificate "{other.name}": '
                "a hostname is served by one certificate only (rotate that one instead)"
            )
    return ""


def _apply(cert: ServerCertificate, checked: CheckedCertificate) -> None:
    cert.hostnames = list(checked.hostnames)
    cert.chain_pem = checked.chain_pem
    cert.sealed_key = sealing.seal(sealing_key(), secret_name(cert.name), checked.key_pem)
    cert.fingerprint_sha256 = checked.fingerprint_sha256
    cert.subject = checked.subject[:500]
    cert.issuer = checked.issuer[:500]
    cert.key_type = checked.key_type
    cert.not_before = checked.not_before
    cert.not_after = checked.not_after
    cert.rotated_at = timezone.now()
