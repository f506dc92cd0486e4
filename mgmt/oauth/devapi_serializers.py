"""Input and output of the developer API's OAuth client endpoints."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mgmt.devapi.serializers.strict import StrictSerializer
from mgmt.oauth.credentials import SECRET_PREFIX
from mgmt.oauth.models import OAuthClientSecret
from mgmt.oauth.services import MAX_ROTATION_OVERLAP

SECRET_STATES = ["active", "expiring", "expired", "revoked"]


class RotateSecretInput(StrictSerializer):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_ROTATION_OVERLAP.total_seconds()),
        help_text="How long the old secret keeps working beside the new one.",
    )


class SecretOutput(serializers.Serializer[Any]):
    secret_id = serializers.CharField()
    prefix = serializers.SerializerMethodField(help_text="How the secret starts: tell them apart.")
    state = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    def get_prefix(self, secret: OAuthClientSecret) -> str:
        return f"{SECRET_PREFIX}{secret.secret_id}_"

    @extend_schema_field(serializers.ChoiceField(choices=SECRET_STATES))
    def get_state(self, secret: OAuthClientSecret) -> str:
        if secret.revoked_at is not None:
            return "revoked"
        if secret.expires_at is None:
            return "active"
        return "expiring" if secret.expires_at > timezone.now() else "expired"


class IssuedSecretOutput(SecretOutput):
    client_secret = serializers.CharField(
        help_text="The secret: shown this once, stored only as a hash."
    )


class RotatedSecretOutput(IssuedSecretOutput):
    previous = SecretOutput(help_text="The rotated secret, now expiring at the end of the overlap.")


class ClientOutput(serializers.Serializer[Any]):
    client_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    token_endpoint = serializers.SerializerMethodField()
    secrets = SecretOutput(many=True, source="secrets.all")

    def get_token_endpoint(self, _: Any) -> str:
        from mgmt.oauth.views import metadata_document

        return str(metadata_document()["token_endpoint"])


class CreatedClientOutput(ClientOutput):
    client_secret = serializers.CharField(
        help_text="The first secret: shown this once, stored only as a hash."
    )
