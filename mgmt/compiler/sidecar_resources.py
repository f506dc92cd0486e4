"""Tollgate's own resources for the sidecars: credentials, applications, plans, API policies,
and each subscription's effective rate limits."""

from collections import defaultdict

from extauthz.caller_ids import certificate_id, token_client_id
from extauthz.keys import shard_of
from mgmt.compiler.inputs import PlanRow, Rows, SubscriptionRow, WindowRow
from mgmt.compiler.lifecycle import successor_of
from protos.tollgate.v1 import resources_pb2

# Fixed shard counts: a key change re-sends one shard's worth of parsing on the sidecar,
# and at 1,000,000 keys a shard stays near 4 MB, far below the 64 MiB message cap.
CREDENTIAL_SHARDS = 16
APPLICATION_SHARDS = 16
RATE_LIMIT_SHARDS = 16

_ALGORITHMS = {
    "sliding": resources_pb2.RateLimitWindow.SLIDING,
    "fixed": resources_pb2.RateLimitWindow.FIXED,
}


def credential_shards(rows: Rows) -> list[resources_pb2.CredentialShard]:
    shards = [
        resources_pb2.CredentialShard(
            name=f"credentials/{i}", index=i, shard_count=CREDENTIAL_SHARDS
        )
        for i in range(CREDENTIAL_SHARDS)
    ]
    for cred in sorted(rows.credentials, key=lambda c: c.key_id):
        shards[shard_of(cred.key_id, CREDENTIAL_SHARDS)].credentials.append(
            resources_pb2.Credential(
                key_id=cred.key_id,
                key_hash=cred.key_hash,
                application_id=cred.application_id,
                expires_at=cred.expires_at,
                revoked_at=cred.revoked_at,
            )
        )
    for client in sorted(rows.token_clients, key=lambda c: (c.issuer, c.client_id)):
        lookup = token_client_id(client.issuer, client.client_id)
        shards[shard_of(lookup, CREDENTIAL_SHARDS)].token_clients.append(
            resources_pb2.TokenClient(
                issuer=client.issuer,
                client_id=client.client_id,
                application_id=client.application_id,
                revoked_at=client.revoked_at,
            )
        )
    for cert in sorted(rows.client_certificates, key=lambda c: c.fingerprint_sha256):
        lookup = certificate_id(cert.fingerprint_sha256.hex())
        shards[shard_of(lookup, CREDENTIAL_SHARDS)].client_certificates.append(
            resources_pb2.ClientCertificate(
                fingerprint_sha256=cert.fingerprint_sha256,
                application_id=cert.application_id,
                expires_at=cert.expires_at,
                revoked_at=cert.revoked_at,
            )
        )
    return shards


def application_shards(rows: Rows) -> list[resources_pb2.ApplicationShard]:
    apis_by_product: dict[int, list[int]] = defaultdict(list)
    for api in rows.apis:
        apis_by_product[api.product_id].append(api.id)
    scopes = {p.id: p.scopes for p in rows.plans}
    grants: dict[int, dict[int, resources_pb2.Grant]] = defaultdict(dict)
    for sub in sorted(rows.subscriptions, key=lambda s: s.id):
        for api_id in apis_by_product.get(sub.product_id, ()):
            grants[sub.application_id][api_id] = resources_pb2.Grant(
                api_id=api_id,
                plan=sub.plan_slug,
                subscription_id=sub.id,
                scopes=sorted(scopes.get(sub.plan_id, ())),
            )
    shards = [
        resources_pb2.ApplicationShard(
            name=f"applications/{i}", index=i, shard_count=APPLICATION_SHARDS
        )
        for i in range(APPLICATION_SHARDS)
    ]
    for app in sorted(rows.applications, key=lambda a: a.id):
        shards[app.id % APPLICATION_SHARDS].applications.append(
            resources_pb2.Application(
                id=app.id,
                public_id=app.public_id,
                organization_id=app.organization_id,
                consumer_id=app.consumer_id,
                grants=[grants[app.id][api_id] for api_id in sorted(grants.get(app.id, {}))],
            )
        )
    return shards


def plans(rows: Rows) -> list[resources_pb2.Plan]:
    return [
        resources_pb2.Plan(
            name=f"plans/{p.slug}", slug=p.slug, display_name=p.name, product_id=p.product_id
        )
        for p in sorted(rows.plans, key=lambda p: p.slug)
    ]


def api_policies(rows: Rows) -> list[resources_pb2.ApiPolicy]:
    apis = {a.id: a for a in rows.apis}
    by_id = {v.id: v for v in rows.versions}
    versions = defaultdict(list)
    for v in sorted(rows.versions, key=lambda v: v.id):
        successor = successor_of(v, by_id, apis)
        versions[v.api_id].append(
            resources_pb2.ApiVersionPolicy(
                id=v.id,
                version=v.version,
                lifecycle=v.lifecycle,
                sunset_at=v.sunset_at,
                successor=successor.path if successor else "",
            )
        )
    return [
        resources_pb2.ApiPolicy(
            name=f"apis/{a.id}",
            id=a.id,
            slug=a.slug,
            owner_organization_id=a.organization_id,
            versions=versions.get(a.id, []),
        )
        for a in sorted(rows.apis, key=lambda a: a.id)
    ]


def effective_windows(plan: PlanRow | None, sub: SubscriptionRow) -> list[WindowRow]:
    """The plan's windows, each replaced by the subscription's of the same length, plus the
    subscription's windows the plan lacks; shortest first."""
    by_seconds = {w.seconds: w for w in plan.windows} if plan else {}
    by_seconds.update({w.seconds: w for w in sub.windows})
    return [by_seconds[seconds] for seconds in sorted(by_seconds)]


def effective_quota(
    plan: PlanRow | None, sub: SubscriptionRow
) -> resources_pb2.RateLimitQuota | None:
    """The subscription's own quota, else its plan's; periods run from the subscription's start.

    An override keeps the plan's period and shadow flag (a plan without a quota: monthly).
    A priced plan's subscription without a quota gets the billing meter instead: a quota
    counter, in the same key and periods, that limits nothing. With a quota, the quota's
    counter is the meter.
    """
    requests = sub.quota_requests or (plan.quota_requests if plan else 0)
    if requests <= 0:
        if plan is None or not plan.metered:
            return None
        return resources_pb2.RateLimitQuota(
            period_months=plan.quota_period_months, anchor=sub.started_at, meter=True
        )
    return resources_pb2.RateLimitQuota(
        requests=requests,
        period_months=plan.quota_period_months if plan else 1,
        anchor=sub.started_at,
        shadow=plan.quota_shadow if plan else False,
    )


def subscription_limits(
    plan: PlanRow | None, sub: SubscriptionRow
) -> resources_pb2.SubscriptionLimits:
    limits = resources_pb2.SubscriptionLimits(
        subscription_id=sub.id,
        application_id=sub.application_id,
        plan=sub.plan_slug,
        windows=[
            resources_pb2.RateLimitWindow(
                requests=w.requests,
                window_seconds=w.seconds,
                algorithm=_ALGORITHMS[w.algorithm],
                shadow=w.shadow,
                unit=w.unit,
            )
            for w in effective_windows(plan, sub)
        ],
    )
    quota = effective_quota(plan, sub)
    if quota is not None:
        limits.quota.CopyFrom(quota)
    return limits


def rate_limit_shards(rows: Rows) -> list[resources_pb2.RateLimitShard]:
    """Every active subscription, limits or not: an empty entry means known and unlimited,
    which the sidecar tells apart from a subscription it has not heard of yet."""
    plans_by_id = {p.id: p for p in rows.plans}
    shards = [
        resources_pb2.RateLimitShard(
            name=f"rate-limits/{i}", index=i, shard_count=RATE_LIMIT_SHARDS
        )
        for i in range(RATE_LIMIT_SHARDS)
    ]
    for sub in sorted(rows.subscriptions, key=lambda s: s.id):
        shards[sub.id % RATE_LIMIT_SHARDS].subscriptions.append(
            subscription_limits(plans_by_id.get(sub.plan_id), sub)
        )
    return shards
