"""Sign-up, verification, log-in, access tokens, the caller, members and invitations."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mgmt.devapi.serializers.strict import StrictSerializer
from mgmt.developers.accounts import MAX_TOKEN_LIFETIME
from mgmt.gateway.models import Invitation, Role

INVITATION_STATES = list(Invitation.STATES)


class SignUpInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    organization_name = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required, unless you sign up with an invitation_token: the organization "
        "you create and own.",
    )
    invitation_token = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="From an invitation mail: joins that organization instead of creating one.",
    )


class DetailOutput(serializers.Serializer[Any]):
    detail = serializers.CharField()


class OrganizationBrief(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()


class SignedUpOutput(serializers.Serializer[Any]):
    email = serializers.EmailField()
    email_verified = serializers.BooleanField()
    organization = OrganizationBrief(allow_null=True)
    detail = serializers.CharField()


class TokenInput(StrictSerializer):
    token = serializers.CharField(max_length=1000)


class EmailInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetInput(StrictSerializer):
    code = serializers.CharField(
        max_length=300,
        required=False,
        help_text="The code from the reset mail (the part of its link after `#`).",
    )
    uid = serializers.CharField(
        max_length=40, required=False, help_text="The code's part before the dot (older clients)."
    )
    token = serializers.CharField(
        max_length=200, required=False, help_text="The code's part after the dot (older clients)."
    )
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "code" in attrs:
            if "uid" in attrs or "token" in attrs:
                raise serializers.ValidationError({"code": ["give the code, or uid and token"]})
            return attrs
        missing = {
            name: ["required without a code"] for name in ("uid", "token") if name not in attrs
        }
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class CredentialsInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class AccessTokenInput(CredentialsInput):
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    expires_in_days = serializers.IntegerField(
        min_value=1, max_value=MAX_TOKEN_LIFETIME.days, required=False, default=90
    )


class AccessTokenOutput(serializers.Serializer[Any]):
    token_id = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


class IssuedAccessTokenOutput(AccessTokenOutput):
    token = serializers.CharField(help_text="The secret: shown this once, stored only as a hash.")


class MembershipOfCaller(serializers.Serializer[Any]):
    slug = serializers.CharField(source="organization.slug")
    name = serializers.CharField(source="organization.name")
    role = serializers.ChoiceField(choices=Role.choices)


class MeOutput(serializers.Serializer[Any]):
    email = serializers.EmailField()
    name = serializers.CharField(source="first_name")
    email_verified = serializers.BooleanField()
    organizations = MembershipOfCaller(many=True)


class MemberOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.first_name")
    role = serializers.ChoiceField(choices=Role.choices)
    joined_at = serializers.DateTimeField(source="created_at")


class RoleInput(StrictSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationInput(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.DEVELOPER)


class InvitationOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    state = serializers.SerializerMethodField(help_text="open, accepted, revoked or expired")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.ChoiceField(choices=INVITATION_STATES))
    def get_state(self, invitation: Invitation) -> str:
        return invitation.state()
