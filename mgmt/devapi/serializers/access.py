"""Applications, API keys, subscriptions and limit requests of one organization."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from extauthz.keys import PREFIX
from mgmt.devapi.serializers.catalog import RateLimitOutput
from mgmt.devapi.serializers.strict import StrictSerializer
from mgmt.developers.limits import effective_windows
from mgmt.gateway.models import ApiKey, LimitRequest, Subscription
from mgmt.gateway.models.access import RateLimit
from mgmt.gateway.services import MAX_ROTATION_OVERLAP

KEY_STATES = ["active", "expiring", "expired", "revoked"]


class ApplicationInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default=""
    )
    # No default: a blank default would document '' as an email, which OpenAPI refuses.
    contact_email = serializers.EmailField(
        max_length=254,
        required=False,
        allow_blank=True,
        help_text="Who hears about deprecations; empty: the organization's contact.",
    )


class ApplicationUpdateInput(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    contact_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)


class ApplicationOutput(serializers.Serializer[Any]):
    public_id = serializers.CharField(help_text="Sent upstream as x-application-id.")
    name = serializers.CharField()
    description = serializers.CharField()
    contact_email = serializers.CharField()
    organization = serializers.CharField(source="organization.slug")
    created_at = serializers.DateTimeField()


class KeyInput(StrictSerializer):
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Empty: the key never expires."
    )


class RotateInput(StrictSerializer):
    overlap_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_ROTATION_OVERLAP.total_seconds()),
        help_text="How long the old key keeps working beside the new one.",
    )


class KeyOutput(serializers.Serializer[Any]):
    key_id = serializers.CharField()
    prefix = serializers.SerializerMethodField(help_text="How the key starts: tell keys apart.")
    label = serializers.CharField()  # type: ignore[assignment]
    state = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    rotated_from = serializers.CharField(
        source="rotated_from.key_id", allow_null=True, default=None
    )

    def get_prefix(self, key: ApiKey) -> str:
        return f"{PREFIX}{key.key_id}_"

    @extend_schema_field(serializers.ChoiceField(choices=KEY_STATES))
    def get_state(self, key: ApiKey) -> str:
        if key.revoked_at is not None:
            return "revoked"
        if key.expires_at is None:
            return "active"
        return "expiring" if key.expires_at > timezone.now() else "expired"


class IssuedKeyOutput(KeyOutput):
    key = serializers.CharField(help_text="The secret: shown this once, stored only as a hash.")


class RotatedKeyOutput(IssuedKeyOutput):
    previous = KeyOutput(help_text="The rotated key, now expiring at the end of the overlap.")


class SubscribeInput(StrictSerializer):
    plan = serializers.SlugField(max_length=63, help_text="A public plan's slug, from the catalog.")


class Named(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()


class SubscriptionOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    product = Named()
    plan = Named()
    state = serializers.ChoiceField(
        choices=Subscription.State.choices,
        help_text="pending waits for the API owner; only active lets calls through.",
    )
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField()
    rate_limits = serializers.SerializerMethodField(
        help_text="The limits in force: the plan's, with this subscription's overrides."
    )
    quota_requests = serializers.SerializerMethodField(
        help_text="Requests per quota period, if the plan or an override sets a quota."
    )

    @extend_schema_field(RateLimitOutput(many=True))
    def get_rate_limits(self, subscription: Subscription) -> list[dict[str, Any]]:
        windows = effective_windows(
            subscription.plan.rate_limits.all(), subscription.rate_limits.all()
        )
        return list(RateLimitOutput(windows, many=True).data)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_quota_requests(self, subscription: Subscription) -> int | None:
        return subscription.quota_requests or subscription.plan.quota_requests


class WindowInput(StrictSerializer):
    requests = serializers.IntegerField(min_value=1)
    unit = serializers.ChoiceField(choices=RateLimit.Unit.choices)
    unit_multiplier = serializers.IntegerField(min_value=1, required=False, default=1)


class LimitRequestInput(StrictSerializer):
    """Windows, a quota, or both: at least one of them."""

    windows = WindowInput(many=True, required=False, default=list)
    quota_requests = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    reason = serializers.CharField(max_length=2000)


class WindowOutput(serializers.Serializer[Any]):
    requests = serializers.IntegerField()
    unit = serializers.ChoiceField(choices=RateLimit.Unit.choices)
    unit_multiplier = serializers.IntegerField()


class LimitRequestOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    subscription = serializers.IntegerField(source="subscription_id")
    windows = WindowOutput(many=True)
    quota_requests = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()
    state = serializers.ChoiceField(choices=LimitRequest.State.choices)
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField()
