"""POST bodies of the Plan and Subscription admin pages, with their rate-limit inlines."""

from typing import Any

from mgmt.gateway.models import Plan, Subscription


def inline(owner_field: str, owner_pk: int, rows: list[dict[str, Any]], initial: int = 0):  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {
        "rate_limits-TOTAL_FORMS": len(rows),
        "rate_limits-INITIAL_FORMS": initial,
        "rate_limits-MIN_NUM_FORMS": 0,
        "rate_limits-MAX_NUM_FORMS": 1000,
    }
    for i, row in enumerate(rows):
        fields = {"id": "", "unit_multiplier": 1, "algorithm": "sliding", **row}
        fields[owner_field] = owner_pk
        data.update({f"rate_limits-{i}-{name}": value for name, value in fields.items()})
    return data


def plan_form(plan: Plan, rows: list[dict[str, Any]], initial: int = 0, **fields: Any):  # type: ignore[no-untyped-def]
    return {
        "product": plan.product_id,
        "name": plan.name,
        "slug": plan.slug,
        "description": "",
        "quota_requests": "",
        "quota_period": "month",
        **fields,
        **inline("plan", plan.pk, rows, initial),
    }


def subscription_form(subscription: Subscription, rows: list[dict[str, Any]], **fields: Any):  # type: ignore[no-untyped-def]
    return {
        "application": subscription.application_id,
        "product": subscription.product_id,
        "plan": subscription.plan_id,
        "state": subscription.state,
        "started_at_0": subscription.started_at.strftime("%Y-%m-%d"),
        "started_at_1": subscription.started_at.strftime("%H:%M:%S"),
        "quota_requests": "",
        **fields,
        **inline("subscription", subscription.pk, rows),
    }
