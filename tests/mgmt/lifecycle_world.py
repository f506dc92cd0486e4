"""A small catalogue for lifecycle tests: one API with v1 and v2, a plan, subscribers, and
the usage rows that say who called which version."""

from dataclasses import dataclass
from datetime import UTC, datetime

from mgmt.analytics.models import Coverage, UsageDay, UsageHour, UsageRow
from mgmt.gateway.models import Api, ApiVersion, Application, Plan
from tests.mgmt import factories


@dataclass
class LifecycleWorld:
    api: Api
    v1: ApiVersion
    v2: ApiVersion
    plan: Plan
    subscribers: list[Application]
    outsider: Application  # subscribed to another product


def lifecycle_world(subscribers: int = 2) -> LifecycleWorld:
    owner = factories.organization(contact_email="owner@example.test")
    product = factories.product(organization=owner)
    api = factories.api(product=product, name="Payments", base_path="/payments")
    v1 = factories.api_version(api=api, version="v1", path_prefix="/v1")
    v2 = factories.api_version(api=api, version="v2", path_prefix="/v2")
    factories.route(api_version=v1)
    factories.route(api_version=v2)
    plan = factories.plan(product=product)
    apps = []
    for n in range(subscribers):
        partner = factories.organization(contact_email=f"partner{n}@example.test")
        app = factories.application(organization=partner, name=f"Partner app {n}")
        factories.subscription(application=app, plan=plan)
        apps.append(app)
    outsider = factories.application(
        organization=factories.organization(contact_email="outsider@example.test")
    )
    factories.subscription(application=outsider)
    return LifecycleWorld(api, v1, v2, plan, apps, outsider)


def deprecated(world: LifecycleWorld, *, sunset_at: datetime, now: datetime) -> ApiVersion:
    """v1 deprecated at `now` with v2 as its successor (bypassing the service's clock rule),
    in whole seconds as the service stores them."""
    ApiVersion.objects.filter(pk=world.v1.pk).update(
        lifecycle=ApiVersion.Lifecycle.DEPRECATED,
        deprecated_at=now.replace(microsecond=0),
        sunset_at=sunset_at.replace(microsecond=0),
        successor=world.v2,
        changelog_url="https://docs.example.test/payments/v2-migration",
    )
    world.v1.refresh_from_db()
    return world.v1


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def called(
    model: type[UsageRow],
    version: ApiVersion,
    application_id: int,
    *,
    at: datetime,
    requests: int = 3,
) -> None:
    """Usage rows as the fold leaves them: one per (bucket, dimensions)."""
    bucket = minute_of(at)
    if model is UsageHour:
        bucket = bucket.replace(minute=0)
    elif model is UsageDay:
        bucket = bucket.replace(hour=0, minute=0)
    model._default_manager.create(
        bucket=bucket,
        api_id=version.api_id,
        version_id=version.pk,
        route_id=0,
        application_id=application_id,
        status_class="2xx",
        requests=requests,
    )


def recorded(at: datetime) -> None:
    """The collector held a stream from an Envoy for the minute of `at`."""
    Coverage.objects.create(bucket=minute_of(at), node="gw-1", seconds=60)
