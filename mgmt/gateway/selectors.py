"""Reads the compiler's input rows from the database: one query per table, nothing lazy."""

from datetime import datetime

from django.conf import settings
from django.db.models import Prefetch

from mgmt.compiler.inputs import (
    ApiRow,
    ApiVersionRow,
    ApplicationRow,
    CredentialRow,
    EndpointRow,
    GatewaySettings,
    PlanRow,
    RouteRow,
    Rows,
    SubscriptionRow,
    UpstreamRow,
)
from mgmt.gateway import validators
from mgmt.gateway.models import (
    Api,
    ApiKey,
    ApiVersion,
    Application,
    Endpoint,
    Plan,
    Route,
    Snapshot,
    Subscription,
    Upstream,
)


def _unix(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def gateway_settings() -> GatewaySettings:
    return GatewaySettings(
        listen_address=settings.TOLLGATE_GATEWAY_ADDRESS,
        listen_port=settings.TOLLGATE_GATEWAY_PORT,
        extauthz_timeout_ms=settings.TOLLGATE_EXTAUTHZ_TIMEOUT_MS,
    )


def _successor_path(version: ApiVersion) -> str:
    successor = version.successor
    if successor is None:
        return version.changelog_url
    return successor.api.base_path.rstrip("/") + successor.path_prefix or "/"


def current_rows() -> Rows:
    upstreams = tuple(
        UpstreamRow(
            id=u.id,
            name=u.name,
            lb_policy=u.lb_policy,
            connect_timeout_ms=u.connect_timeout_ms,
            endpoints=tuple(EndpointRow(e.host, e.port, e.weight) for e in u.endpoints.all()),
            health_check_path=u.health_check_path,
            health_check_interval_ms=u.health_check_interval_ms,
            health_check_timeout_ms=u.health_check_timeout_ms,
            unhealthy_threshold=u.unhealthy_threshold,
            healthy_threshold=u.healthy_threshold,
        )
        for u in Upstream.objects.prefetch_related(
            Prefetch("endpoints", queryset=Endpoint.objects.order_by("host", "port"))
        )
    )
    apis = tuple(
        ApiRow(
            id=a.id,
            slug=a.slug,
            name=a.name,
            organization_id=a.organization_id,
            product_id=a.product_id,
            hostnames=tuple(validators.split_list(a.hostnames)),
            base_path=a.base_path,
        )
        for a in Api.objects.all()
    )
    versions = tuple(
        ApiVersionRow(
            id=v.id,
            api_id=v.api_id,
            version=v.version,
            lifecycle=v.lifecycle,
            path_prefix=v.path_prefix,
            sunset_at=_unix(v.sunset_at),
            successor_path=_successor_path(v),
        )
        for v in ApiVersion.objects.select_related("successor__api")
    )
    routes = tuple(
        RouteRow(
            id=r.id,
            api_version_id=r.api_version_id,
            upstream_id=r.upstream_id,
            match_type=r.match_type,
            path=r.path,
            methods=tuple(validators.split_list(r.methods)),
            timeout_ms=r.timeout_ms,
            position=r.position,
        )
        for r in Route.objects.all()
    )
    plans = tuple(PlanRow(p.id, p.slug, p.name, p.product_id) for p in Plan.objects.all())
    applications = tuple(
        ApplicationRow(a.id, a.public_id, a.organization_id, a.organization.slug)
        for a in Application.objects.select_related("organization")
    )
    subscriptions = tuple(
        SubscriptionRow(s.id, s.application_id, s.product_id, s.plan.slug)
        for s in Subscription.objects.filter(state=Subscription.State.ACTIVE).select_related("plan")
    )
    credentials = tuple(
        CredentialRow(
            key_id=key_id,
            key_hash=bytes(key_hash),
            application_id=app_id,
            expires_at=_unix(expires_at),
            revoked_at=_unix(revoked_at),
        )
        for key_id, key_hash, app_id, expires_at, revoked_at in ApiKey.objects.values_list(
            "key_id", "key_hash", "application_id", "expires_at", "revoked_at"
        ).iterator(chunk_size=10_000)
    )
    return Rows(
        upstreams=upstreams,
        apis=apis,
        versions=versions,
        routes=routes,
        plans=plans,
        applications=applications,
        subscriptions=subscriptions,
        credentials=credentials,
    )


def latest_published_snapshot() -> tuple[str, bytes] | None:
    row = (
        Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED)
        .order_by("-id")
        .values_list("version", "payload")
        .first()
    )
    return (row[0], bytes(row[1])) if row else None
