"""Input and output of the developer API's client certificates and token clients."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mgmt.devapi.serializers.strict import StrictSerializer
from mgmt.identity.client_cert_checks import MAX_PEM_CHARS
from mgmt.identity.models import ClientCertificate, TokenClient

CERTIFICATE_STATES = ["active", "expired", "revoked"]


class ClientCertificateInput(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    certificate_pem = serializers.CharField(
        max_length=MAX_PEM_CHARS,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="The client's own certificate (PEM), not its chain, never its private key. "
        "Give this or `fingerprint`.",
    )
    fingerprint = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="The SHA-256 fingerprint of the certificate's DER: 64 hex digits, colons "
        "allowed, as `openssl x509 -noout -fingerprint -sha256` prints it.",
    )


class ClientCertificateOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    fingerprint_sha256 = serializers.SerializerMethodField(
        help_text="SHA-256 of the certificate's DER, colon-separated hex."
    )
    subject = serializers.CharField(help_text="Empty when registered by fingerprint.")
    not_after = serializers.DateTimeField(
        allow_null=True, help_text="Expiry; null when registered by fingerprint."
    )
    state = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)

    def get_fingerprint_sha256(self, certificate: ClientCertificate) -> str:
        return certificate.fingerprint_hex()

    @extend_schema_field(serializers.ChoiceField(choices=CERTIFICATE_STATES))
    def get_state(self, certificate: ClientCertificate) -> str:
        return certificate.state()


class TokenClientOutput(serializers.Serializer[Any]):
    issuer = serializers.CharField(source="issuer.issuer", help_text="The tokens' `iss`.")
    issuer_name = serializers.CharField(source="issuer.name")
    client_id = serializers.CharField(
        help_text="The client claim (azp / client_id) that names this application."
    )
    state = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.ChoiceField(choices=["active", "revoked"]))
    def get_state(self, client: TokenClient) -> str:
        return "revoked" if client.revoked_at is not None else "active"
