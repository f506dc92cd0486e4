"""Small builders for gateway rows: each call makes a fresh, valid row with unique slugs."""

import itertools
from typing import Any

from mgmt.gateway.models import (
    Api,
    ApiVersion,
    Application,
    Endpoint,
    Organization,
    Plan,
    PlanRateLimit,
    Product,
    Route,
    Snapshot,
    Subscription,
    SubscriptionRateLimit,
    Upstream,
)

_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def organization(**kw: Any) -> Organization:
    n = _n()
    kw.setdefault("name", f"Org {n}")
    kw.setdefault("slug", f"org-{n}")
    return Organization.objects.create(**kw)


def product(**kw: Any) -> Product:
    n = _n()
    if "organization" not in kw:
        kw["organization"] = organization()
    kw.setdefault("name", f"Product {n}")
    kw.setdefault("slug", f"product-{n}")
    return Product.objects.create(**kw)


def api(**kw: Any) -> Api:
    n = _n()
    if "product" not in kw:
        kw["product"] = product(organization=kw.get("organization") or organization())
    kw.setdefault("organization", kw["product"].organization)
    kw.setdefault("name", f"API {n}")
    kw.setdefault("slug", f"api-{n}")
    kw.setdefault("base_path", f"/api{n}")
    return Api.objects.create(**kw)


def api_version(**kw: Any) -> ApiVersion:
    if "api" not in kw:
        kw["api"] = api()
    kw.setdefault("version", f"v{_n()}")
    kw.setdefault("lifecycle", ApiVersion.Lifecycle.PUBLISHED)
    return ApiVersion.objects.create(**kw)


def upstream(**kw: Any) -> Upstream:
    n = _n()
    if "organization" not in kw:
        kw["organization"] = organization()
    kw.setdefault("name", f"upstream-{n}")
    return Upstream.objects.create(**kw)


def endpoint(**kw: Any) -> Endpoint:
    if "upstream" not in kw:
        kw["upstream"] = upstream()
    kw.setdefault("host", "127.0.0.1")
    kw.setdefault("port", 8000 + _n())
    return Endpoint.objects.create(**kw)


def route(**kw: Any) -> Route:
    if "api_version" not in kw:
        kw["api_version"] = api_version()
    if "upstream" not in kw:
        kw["upstream"] = endpoint().upstream
    kw.setdefault("path", "/")
    return Route.objects.create(**kw)


def plan(**kw: Any) -> Plan:
    n = _n()
    if "product" not in kw:
        kw["product"] = product()
    kw.setdefault("name", f"Plan {n}")
    kw.setdefault("slug", f"plan-{n}")
    return Plan.objects.create(**kw)


def application(**kw: Any) -> Application:
    if "organization" not in kw:
        kw["organization"] = organization()
    kw.setdefault("name", f"App {_n()}")
    return Application.objects.create(**kw)


def subscription(**kw: Any) -> Subscription:
    if "plan" not in kw:
        kw["plan"] = plan()
    kw.setdefault("product", kw["plan"].product)
    if "application" not in kw:
        kw["application"] = application()
    return Subscription.objects.create(**kw)


def plan_rate_limit(**kw: Any) -> PlanRateLimit:
    if "plan" not in kw:
        kw["plan"] = plan()
    kw.setdefault("requests", 100)
    kw.setdefault("unit", "minute")
    return PlanRateLimit.objects.create(**kw)


def subscription_rate_limit(**kw: Any) -> SubscriptionRateLimit:
    if "subscription" not in kw:
        kw["subscription"] = subscription()
    kw.setdefault("requests", 1000)
    kw.setdefault("unit", "minute")
    return SubscriptionRateLimit.objects.create(**kw)


def catalog() -> Route:
    """A minimal routable catalog: one API, one version, one route to one upstream."""
    return route()


def published() -> "list[Snapshot]":
    return list(Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).order_by("id"))
