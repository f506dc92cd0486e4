"""The catalog as partners see it: products, their public plans and limits, their APIs
and the versions that can be called, with lifecycle dates and a changelog."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mgmt.gateway.models import Api, ApiVersion, Plan, Product
from mgmt.gateway.models.access import RateLimit


class RateLimitOutput(serializers.Serializer[Any]):
    requests = serializers.IntegerField()
    unit = serializers.ChoiceField(choices=RateLimit.Unit.choices)
    unit_multiplier = serializers.IntegerField()
    window_seconds = serializers.IntegerField()
    algorithm = serializers.ChoiceField(choices=RateLimit.Algorithm.choices)
    shadow = serializers.BooleanField()


class QuotaOutput(serializers.Serializer[Any]):
    requests = serializers.IntegerField(source="quota_requests")
    period = serializers.ChoiceField(source="quota_period", choices=Plan.QuotaPeriod.choices)


class PlanOutput(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    requires_approval = serializers.BooleanField(
        help_text="Subscriptions on this plan wait for the API owner's approval."
    )
    rate_limits = RateLimitOutput(many=True)
    quota = serializers.SerializerMethodField()

    @extend_schema_field(QuotaOutput(allow_null=True))
    def get_quota(self, plan: Plan) -> dict[str, Any] | None:
        return QuotaOutput(plan).data if plan.quota_requests else None


class ChangeOutput(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()


class VersionOutput(serializers.Serializer[Any]):
    version = serializers.CharField()
    lifecycle = serializers.ChoiceField(choices=ApiVersion.Lifecycle.choices)
    path = serializers.CharField(source="full_path", help_text="Where the version is served.")
    published_at = serializers.DateTimeField(allow_null=True)
    deprecated_at = serializers.DateTimeField(allow_null=True)
    sunset_at = serializers.DateTimeField(
        allow_null=True, help_text="From this moment the gateway answers 410 Gone."
    )
    successor = serializers.CharField(source="successor.version", allow_null=True, default=None)
    changelog_url = serializers.CharField()
    openapi_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_openapi_url(self, version: ApiVersion) -> str | None:
        # Lists annotate whether there is a document rather than load it (selectors).
        has_document = getattr(version, "has_openapi_document", None)
        if has_document is None:
            has_document = bool(version.openapi_document)
        if not has_document:
            return None
        return reverse(
            "devapi:catalog-openapi", kwargs={"api": version.api.slug, "version": version.version}
        )


class VersionDetailOutput(VersionOutput):
    api = serializers.CharField(source="api.slug")
    changelog = serializers.SerializerMethodField(
        help_text="The version's lifecycle transitions, newest first."
    )

    @extend_schema_field(ChangeOutput(many=True))
    def get_changelog(self, version: ApiVersion) -> list[dict[str, Any]]:
        events = version.lifecycle_events.order_by("-at", "-id")[:50]
        return list(ChangeOutput(events, many=True).data)


class ApiOutput(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    hostnames = serializers.ListField(child=serializers.CharField(), source="hostname_list")
    base_path = serializers.CharField()
    version_header = serializers.CharField()
    versions = VersionOutput(many=True, source="versions.all")


class ProductOutput(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    provider = serializers.CharField(source="organization.name")
    plans = PlanOutput(many=True, source="plans.all")
    apis = serializers.SerializerMethodField()

    @extend_schema_field(ApiOutput(many=True))
    def get_apis(self, product: Product) -> list[dict[str, Any]]:
        # Only APIs with a version to call: an API of drafts is not in the catalog yet.
        callable_apis: list[Api] = [a for a in product.apis.all() if a.versions.all()]
        return list(ApiOutput(callable_apis, many=True).data)
