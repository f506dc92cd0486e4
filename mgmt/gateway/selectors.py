"""Reads the compiler's input rows from the database: one query per table, nothing lazy."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

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
    WindowRow,
)
from mgmt.compiler.rate_limits import window_seconds
from mgmt.gateway import validators
from mgmt.gateway.models import (
    Api,
    ApiKey,
    ApiVersion,
    Application,
    Endpoint,
    Plan,
    PlanRateLimit,
    Route,
    Snapshot,
    Subscription,
    SubscriptionRateLimit,
    Upstream,
)
from mgmt.identity import selectors as identity_selectors
from mgmt.oauth import selectors as oauth_selectors
from mgmt.tls.selectors import certificate_rows, upstream_tls_row

_WINDOW_FIELDS = ("requests", "unit", "unit_multiplier", "algorithm", "shadow")


def _unix(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def gateway_settings() -> GatewaySettings:
    return GatewaySettings(
        listen_address=settings.TOLLGATE_GATEWAY_ADDRESS,
        listen_port=settings.TOLLGATE_GATEWAY_PORT,
        extauthz_timeout_ms=settings.TOLLGATE_EXTAUTHZ_TIMEOUT_MS,
        authz_transport=settings.TOLLGATE_AUTHZ_TRANSPORT,
        ratelimit_fail_closed_status=settings.TOLLGATE_RATELIMIT_FAIL_CLOSED_STATUS,
        ratelimit_draft03_headers=settings.TOLLGATE_RATELIMIT_DRAFT03_HEADERS,
        https_port=settings.TOLLGATE_GATEWAY_HTTPS_PORT,
        system_ca_file=settings.TOLLGATE_SYSTEM_CA_FILE,
    )


def _windows_by_owner(
    values: Iterable[tuple[int, int, str, int, str, bool]],
) -> dict[int, tuple[WindowRow, ...]]:
    """(owner id, requests, unit, multiplier, algorithm, shadow) rows, grouped, shortest first."""
    grouped: dict[int, list[WindowRow]] = defaultdict(list)
    for owner_id, requests, unit, multiplier, algorithm, shadow in values:
        grouped[owner_id].append(
            WindowRow(requests, window_seconds(unit, multiplier), unit, algorithm, shadow)
        )
    return {
        owner: tuple(sorted(windows, key=lambda w: (w.seconds, w.requests)))
        for owner, windows in grouped.items()
    }


def _plans() -> tuple[PlanRow, ...]:
    windows = _windows_by_owner(PlanRateLimit.objects.values_list("plan_id", *_WINDOW_FIELDS))
    # Plans with a price (mgmt.billing, through its reverse relation) are metered.
    metered = set(Plan.objects.filter(prices__isnull=False).values_list("id", flat=True))
    return tuple(
        PlanRow(
            p.id,
            p.slug,
            p.name,
            p.product_id,
            windows=windows.get(p.id, ()),
            quota_requests=p.quota_requests or 0,
            quota_period_months=p.quota_period_months,
            quota_shadow=p.quota_shadow,
            metered=p.id in metered,
            scopes=tuple(validators.split_scopes(p.granted_scopes)),
        )
        for p in Plan.objects.all()
    )


def _subscriptions() -> tuple[SubscriptionRow, ...]:
    """Two flat queries however many subscriptions (a catalogue may hold 100,000)."""
    active = Subscription.State.ACTIVE
    windows = _windows_by_owner(
        SubscriptionRateLimit.objects.filter(subscription__state=active)
        .values_list("subscription_id", *_WINDOW_FIELDS)
        .iterator(chunk_size=10_000)
    )
    return tuple(
        SubscriptionRow(
            id=sub_id,
            application_id=app_id,
            product_id=product_id,
            plan_slug=plan_slug,
            plan_id=plan_id,
            # NOT NULL with a default: every subscription has its own start.
            started_at=_unix(started_at),
            windows=windows.get(sub_id, ()),
            quota_requests=quota_requests or 0,
        )
        for sub_id, app_id, product_id, plan_id, plan_slug, started_at, quota_requests in (
            Subscription.objects.filter(state=active)
            .values_list(
                "id",
                "application_id",
                "product_id",
                "plan_id",
                "plan__slug",
                "started_at",
                "quota_requests",
            )
            .iterator(chunk_size=10_000)
        )
    )


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
            tls=upstream_tls_row(u),
        )
        for u in Upstream.objects.select_related("tls").prefetch_related(
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
            version_header=a.version_header,
            default_version_id=a.default_version_id or 0,
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
            deprecated_at=_unix(v.deprecated_at),
            sunset_at=_unix(v.sunset_at),
            successor_id=v.successor_id or 0,
            changelog_url=v.changelog_url,
        )
        for v in ApiVersion.objects.all()
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
            cost=r.cost,
            rate_limit_failure=r.rate_limit_failure,
            scopes=tuple(validators.split_scopes(r.required_scopes)),
        )
        for r in Route.objects.all()
    )
    plans = _plans()
    applications = tuple(
        ApplicationRow(a.id, a.public_id, a.organization_id, a.organization.slug)
        for a in Application.objects.select_related("organization")
    )
    subscriptions = _subscriptions()
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
        certificates=certificate_rows(),
        **_identity_rows(),
    )


def _identity_rows() -> dict[str, Any]:
    """Token issuers (the API owners' and Tollgate's own), their clients, client certificates."""
    own_issuer = oauth_selectors.issuer_row(timezone.now())
    return {
        "token_issuers": (
            *identity_selectors.issuer_rows(),
            *((own_issuer,) if own_issuer is not None else ()),
        ),
        "token_clients": (
            *identity_selectors.token_client_rows(),
            *oauth_selectors.client_rows(),
        ),
        "client_certificates": identity_selectors.client_certificate_rows(),
    }


def _published_newest_first() -> QuerySet[Snapshot]:
    return Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).order_by("-id")


def latest_published_snapshot() -> tuple[str, bytes] | None:
    row = _published_newest_first().values_list("version", "payload").first()
    return (row[0], bytes(row[1])) if row else None


def latest_published_snapshot_version() -> str | None:
    """The latest published version alone (its payload can be megabytes)."""
    return _published_newest_first().values_list("version", flat=True).first()
