"""Admin forms of caller identities: a token client is revoked (never re-pointed), and a
client certificate is registered through the same service and checks as a partner's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from mgmt.developers.errors import InvalidInput
from mgmt.identity import services
from mgmt.identity.models import ClientCertificate, TokenClient, TokenIssuer


class TokenIssuerForm(forms.ModelForm[TokenIssuer]):
    # A URI typed without a scheme is read as https, the only one allowed beyond loopback.
    jwks_uri = forms.URLField(
        assume_scheme="https",
        max_length=2000,
        required=False,
        label="JWKS URI",
        help_text=TokenIssuer._meta.get_field("jwks_uri").help_text,
    )

    class Meta:
        model = TokenIssuer
        fields = "__all__"
        widgets = {
            "audiences": forms.Textarea(attrs={"rows": 2, "cols": 60}),
            "jwks_json": forms.Textarea(attrs={"rows": 8, "cols": 80}),
        }


class TokenClientForm(forms.ModelForm[TokenClient]):
    revoke = forms.BooleanField(
        required=False, help_text="Refuse this client's tokens from the next snapshot on."
    )

    class Meta:
        model = TokenClient
        fields = ("client_id", "application")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            # A mapping is revoked and a new one made, so a revocation is never undone by
            # pointing the row elsewhere.
            self.fields["client_id"].disabled = True
            self.fields["application"].disabled = True
            if self.instance.revoked_at is not None:
                self.fields["revoke"].disabled = True
                self.fields["revoke"].initial = True

    def save(self, commit: bool = True) -> TokenClient:
        client = super().save(commit=False)
        if self.cleaned_data.get("revoke") and client.revoked_at is None:
            client.revoked_at = timezone.now()
        if commit:
            client.save()
        return client


class ClientCertificateAddForm(forms.ModelForm[ClientCertificate]):
    certificate_pem_text = forms.CharField(
        label="Certificate (PEM)",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        required=False,
        help_text="The client's own certificate, not its chain, never its key.",
    )
    fingerprint = forms.CharField(
        label="or its SHA-256 fingerprint",
        max_length=200,
        required=False,
        help_text="64 hex digits, colons allowed.",
    )

    class Meta:
        model = ClientCertificate
        fields = ("application", "name")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.registered: ClientCertificate | None = None
        application = cleaned.get("application")
        if application is None or self.errors:
            return cleaned
        try:
            # Checked and saved in one go: the service owns the checks and the uniqueness.
            self.registered = services.register_client_certificate(
                application=application,
                name=cleaned.get("name", ""),
                certificate_pem=cleaned.get("certificate_pem_text", ""),
                fingerprint=cleaned.get("fingerprint", ""),
            )
        except InvalidInput as error:
            aliases = {"certificate_pem": "certificate_pem_text"}
            for field, messages in error.errors.items():
                for message in messages:
                    self.add_error(aliases.get(field, field), message)
        return cleaned

    def save(self, commit: bool = True) -> ClientCertificate:
        assert self.registered is not None  # clean() registered it
        self.instance = self.registered
        self.save_m2m = lambda: None  # type: ignore[method-assign]  # admin calls it; no m2m here
        return self.registered
