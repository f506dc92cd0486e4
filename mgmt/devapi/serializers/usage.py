"""Usage of an organization's applications: the date range asked for, calls, errors and
throttles per day and API, and each subscription's quota in its billing period."""

from typing import Any

from rest_framework import serializers

from mgmt.analytics.partner_usage import MAX_RANGE_DAYS, resolve_range
from mgmt.devapi.serializers.access import Named


def _date(field_help: str, **options: Any) -> serializers.DateField:
    # ISO 8601 output (isoformat): strftime would write year 1 as "1-01-01".
    return serializers.DateField(help_text=field_help, **options)


class UsageQuery(serializers.Serializer[Any]):
    """The query string: `from` and `to` (Python keywords, hence get_fields)."""

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        return {
            "from": _date(
                "First day (UTC), YYYY-MM-DD; default: 29 days before `to`.",
                required=False,
                input_formats=["%Y-%m-%d"],
            ),
            "to": _date(
                "Last day (UTC), YYYY-MM-DD, included; default: today. "
                f"A range is at most {MAX_RANGE_DAYS} days.",
                required=False,
                input_formats=["%Y-%m-%d"],
            ),
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = self.context["today"]
        dates, errors = resolve_range(attrs.get("from"), attrs.get("to"), today)
        if errors:
            raise serializers.ValidationError(errors)
        return {"dates": dates}


class CountsOutput(serializers.Serializer[Any]):
    calls = serializers.IntegerField(help_text="Requests, whatever their answer.")
    errors = serializers.IntegerField(help_text="Calls answered with a 5xx status.")  # type: ignore[assignment]
    throttled = serializers.IntegerField(
        help_text="Calls the gateway refused with 429 for a rate limit or the quota."
    )


class UsageApiOutput(serializers.Serializer[Any]):
    slug = serializers.CharField(help_text="Empty once the API is deleted.")
    name = serializers.CharField()


class DailyUsageOutput(serializers.Serializer[Any]):
    date = serializers.DateField(source="day", help_text="UTC day.")
    application = serializers.CharField(source="application.public_id")
    api = UsageApiOutput(allow_null=True, help_text="Null: calls no API matched.")
    calls = serializers.IntegerField(source="counts.calls")
    errors = serializers.IntegerField(source="counts.errors", help_text="5xx answers.")  # type: ignore[assignment]
    throttled = serializers.IntegerField(
        source="counts.throttled", help_text="The gateway's own 429s (rate limit or quota)."
    )


class QuotaUseOutput(serializers.Serializer[Any]):
    subscription = serializers.IntegerField(source="subscription.pk")
    product = Named(source="subscription.product")
    plan = Named(source="subscription.plan")
    limit = serializers.IntegerField(help_text="Calls per billing period.")
    used = serializers.IntegerField(
        help_text="Units counted in the current period (a call to a costly route counts more)."
    )
    remaining = serializers.IntegerField()
    period_start = serializers.DateTimeField(
        help_text="Periods run from the subscription's start, month by month (or yearly)."
    )
    period_end = serializers.DateTimeField(help_text="The quota is whole again from here.")
    exact = serializers.BooleanField(
        help_text="True: read from the gateway's own counter. False: the counter could not "
        "be read and `used` is estimated from the daily usage."
    )
    shadow = serializers.BooleanField(help_text="Counted and reported, never enforced.")


class ApplicationUsageOutput(serializers.Serializer[Any]):
    application = serializers.CharField()
    totals = CountsOutput(help_text="Over the whole range.")
    days = DailyUsageOutput(
        many=True, help_text="Per day and API, oldest first; days without calls are left out."
    )
    quotas = QuotaUseOutput(
        many=True, help_text="Each open subscription with a quota, in its current period."
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        return {
            "application": fields.pop("application"),
            "from": _date("First day of the range (UTC)."),
            "to": _date("Last day of the range (UTC), included."),
            **fields,
        }
