"""Upload and rotation of a server certificate: checked, then its key sealed; never echoed.
Or a certificate pointed at as files on the gateway hosts, checked when mgmt can read them."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from django import forms
from django.utils import timezone

from mgmt.compiler.tls import secret_name
from mgmt.tls.models import ServerCertificate
from mgmt.tls.pem_checks import (
    CHAIN,
    MAX_CHAIN_CHARS,
    MAX_KEY_CHARS,
    CertificateProblem,
    CheckedCertificate,
    check_server_certificate,
    is_hostname,
)
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

    hostnames_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        required=False,
        label="Hostnames",
        help_text="Only for files mgmt cannot read (they are on the gateway hosts alone): the "
        "certificate's DNS names, one a line. Such files are not checked here: Envoy refuses a "
        "bad pair, and the gateway keeps its last good configuration.",
    )

    class Meta:
        model = ServerCertificate
        fields = ("name", "enabled", "chain_file", "key_file")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked: CheckedCertificate | None = None
        # Files mgmt could not read: saved with the hostnames given, unchecked.
        self.unchecked_hostnames: tuple[str, ...] | None = None
        if self.instance.pk is not None:
            self.fields[
                "certificate_chain"
            ].help_text = (
                "To rotate: the new chain and its key. Leave both empty to keep the current ones."
            )
            if self.instance.from_files and not self.instance.fingerprint_sha256:
                self.fields["hostnames_text"].initial = "\n".join(self.instance.hostnames)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chain, key = cleaned.get("certificate_chain", ""), cleaned.get("private_key", "")
        if cleaned.get("chain_file") or cleaned.get("key_file"):
            if chain or key:
                self.add_error(
                    "chain_file", "upload the certificate or point at its files, not both"
                )
                return cleaned
            self._clean_files(cleaned)
            return cleaned
        if self.instance.pk is not None and not chain and not key:
            if self.instance.from_files:  # the files are gone from the form: upload instead
                self.add_error("certificate_chain", "Give the certificate chain (PEM).")
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

    def _clean_files(self, cleaned: dict[str, Any]) -> None:
        chain_file, key_file = cleaned.get("chain_file", ""), cleaned.get("key_file", "")
        for field, path in (("chain_file", chain_file), ("key_file", key_file)):
            if not path:
                self.add_error(field, "Give both files: the chain and its private key.")
            elif not posixpath.isabs(path) or posixpath.normpath(path) != path:
                self.add_error(field, "an absolute path, without . or .. in it")
        if self.errors:
            return
        if posixpath.dirname(chain_file) != posixpath.dirname(key_file):
            # Envoy reloads the pair when their directory changes: one directory, one watch.
            self.add_error("key_file", "the key file must be in the chain file's directory")
            return
        if cleaned.get("key_password"):
            self.add_error("key_password", "Envoy reads a key file as it is: no password")
            return
        texts = _read(chain_file, MAX_CHAIN_CHARS), _read(key_file, MAX_KEY_CHARS)
        hostnames = _hostname_lines(cleaned.get("hostnames_text", ""))
        if texts[0] is None or texts[1] is None:
            self._unreadable_files(hostnames)
            return
        if hostnames:
            self.add_error("hostnames_text", "read from the certificate file: leave this empty")
            return
        try:
            self.checked = check_server_certificate(texts[0], texts[1], now=timezone.now())
        except CertificateProblem as problem:
            field = "chain_file" if problem.field == CHAIN else "key_file"
            self.add_error(field, f"{problem} (read from the file)")
            return
        taken = _hostnames_taken(self.checked.hostnames, self.instance.pk)
        if taken:
            self.add_error("chain_file", taken)

    def _unreadable_files(self, hostnames: list[str]) -> None:
        if not hostnames:
            self.add_error(
                "hostnames_text",
                "mgmt cannot read these files (they are on the gateway hosts only?): give the "
                "certificate's hostnames",
            )
            return
        bad = [h for h in hostnames if not is_hostname(h)]
        if bad:
            self.add_error("hostnames_text", f"not a hostname: {', '.join(bad)}")
            return
        taken = _hostnames_taken(tuple(hostnames), self.instance.pk)
        if taken:
            self.add_error("hostnames_text", taken)
            return
        self.unchecked_hostnames = tuple(hostnames)

    def save(self, commit: bool = True) -> ServerCertificate:
        cert = super().save(commit=False)
        if self.checked is not None:
            _apply(cert, self.checked, sealed=not cert.chain_file)
        elif self.unchecked_hostnames is not None:
            _apply_unchecked(cert, self.unchecked_hostnames)
        if commit:
            cert.save()
        return cert


def _read(path: str, limit: int) -> str | None:
    """The file's text when mgmt can read it (same host); None when it cannot."""
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as f:
            return f.read(limit + 1)  # longer than the limit: refused by the checks
    except OSError:
        return None


def _hostname_lines(text: str) -> list[str]:
    return list(dict.fromkeys(line.strip().lower() for line in text.splitlines() if line.strip()))


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


def _apply(cert: ServerCertificate, checked: CheckedCertificate, *, sealed: bool) -> None:
    """`sealed`: an upload, stored; otherwise files, whose key never enters the database."""
    cert.hostnames = list(checked.hostnames)
    if sealed:
        cert.chain_pem = checked.chain_pem
        cert.sealed_key = sealing.seal(sealing_key(), secret_name(cert.name), checked.key_pem)
    else:
        cert.chain_pem, cert.sealed_key = "", b""
    cert.fingerprint_sha256 = checked.fingerprint_sha256
    cert.subject = checked.subject[:500]
    cert.issuer = checked.issuer[:500]
    cert.key_type = checked.key_type
    cert.not_before = checked.not_before
    cert.not_after = checked.not_after
    cert.rotated_at = timezone.now()


def _apply_unchecked(cert: ServerCertificate, hostnames: tuple[str, ...]) -> None:
    cert.hostnames = list(hostnames)
    cert.chain_pem, cert.sealed_key = "", b""
    cert.fingerprint_sha256 = cert.subject = cert.issuer = cert.key_type = ""
    cert.not_before = cert.not_after = None
    cert.rotated_at = timezone.now()
