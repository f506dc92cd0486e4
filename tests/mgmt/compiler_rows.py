"""Builders of compiler input rows for the pure tests."""

import dataclasses
import random

from extauthz.keys import issue_key
from mgmt.compiler.inputs import (
    ApiRow,
    ApiVersionRow,
    ApplicationRow,
    CredentialRow,
    EndpointRow,
    PlanRow,
    RouteRow,
    Rows,
    SubscriptionRow,
    UpstreamRow,
    WindowRow,
)

_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400}


def window(
    requests: int,
    count: int = 1,
    unit: str = "minute",
    algorithm: str = "sliding",
    shadow: bool = False,
) -> WindowRow:
    """`requests` per `count` `unit`s, as the selectors build it."""
    return WindowRow(requests, _UNITS[unit] * count, unit, algorithm, shadow)


def random_windows(rng: random.Random) -> tuple[WindowRow, ...]:
    """Up to three windows of distinct lengths, in any order."""
    units = rng.sample(sorted(_UNITS), rng.randint(0, 3))
    return tuple(
        window(
            rng.randint(1, 10_000),
            rng.randint(1, 5),
            unit,
            algorithm=rng.choice(["sliding", "fixed"]),
            shadow=rng.random() < 0.2,
        )
        for unit in units
    )


def random_lifecycle(rng: random.Random, version: ApiVersionRow, count: int) -> ApiVersionRow:
    """Any lifecycle; a deprecated or retired one maybe with dates, a successor among the
    API's `count` versions (ids api*10+1..) and a changelog."""
    lifecycle = rng.choice(["draft", "published", "deprecated", "retired"])
    if lifecycle in ("draft", "published"):
        return dataclasses.replace(version, lifecycle=lifecycle)
    deprecated_at = rng.choice([0, 1_700_000_000 + rng.randint(0, 10**8)])
    others = [version.api_id * 10 + n for n in range(1, count + 1)]
    return dataclasses.replace(
        version,
        lifecycle=lifecycle,
        deprecated_at=deprecated_at,
        sunset_at=rng.choice([0, max(deprecated_at, 1_700_000_000) + rng.randint(0, 10**8)]),
        successor_id=rng.choice([0, *(i for i in others if i != version.id)]),
        changelog_url=rng.choice(["", "https://docs.example.com/changes?from=v1&to=v2"]),
    )


def random_version_header(
    rng: random.Random, api: ApiRow, versions: tuple[ApiVersionRow, ...]
) -> ApiRow:
    """Half the APIs pick versions by a header too, some with a default version."""
    if rng.random() < 0.5:
        return api
    own = [v.id for v in versions if v.api_id == api.id]
    return dataclasses.replace(
        api, version_header="api-version", default_version_id=rng.choice([0, *own])
    )


def demo_rows(endpoint_host: str = "127.0.0.1") -> Rows:
    key = issue_key()
    return Rows(
        upstreams=(UpstreamRow(1, "demo", endpoints=(EndpointRow(endpoint_host, 9000),)),),
        apis=(ApiRow(1, "demo", "Demo API", organization_id=1, product_id=1, base_path="/demo"),),
        versions=(ApiVersionRow(1, 1, "v1"),),
        routes=(RouteRow(1, 1, 1, path="/"),),
        plans=(PlanRow(1, "free", "Free", 1),),
        applications=(ApplicationRow(1, "app_1", 2, "partner"),),
        subscriptions=(SubscriptionRow(1, 1, 1, "free", plan_id=1),),
        credentials=(CredentialRow(key.key_id, key.key_hash, 1),),
    )


def random_rows(rng: random.Random) -> Rows:
    """A random but valid catalog: APIs with distinct base paths, routes to existing upstreams."""
    upstreams = tuple(
        UpstreamRow(
            i,
            f"u{i}",
            lb_policy=rng.choice(["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"]),
            endpoints=tuple(
                EndpointRow(
                    rng.choice([f"10.0.0.{j}", f"svc{j}.internal"]), 8000 + j, rng.randint(1, 5)
                )
                for j in range(rng.randint(0, 3))
            ),
        )
        for i in range(1, rng.randint(1, 6) + 1)
    )
    hosts = ["a.example.com", "b.example.com", "*.example.org"]
    apis = tuple(
        ApiRow(
            i,
            f"api{i}",
            f"API {i}",
            organization_id=1,
            product_id=rng.randint(1, 2),
            hostnames=tuple(rng.sample(hosts, rng.randint(0, 2))),
            base_path=f"/api{i}",
        )
        for i in range(1, rng.randint(1, 5) + 1)
    )
    versions: tuple[ApiVersionRow, ...] = ()
    for a in apis:
        count = rng.randint(1, 3)
        versions += tuple(
            random_lifecycle(
                rng, ApiVersionRow(a.id * 10 + n, a.id, f"v{n}", path_prefix=f"/v{n}"), count
            )
            for n in range(1, count + 1)
        )
    apis = tuple(random_version_header(rng, a, versions) for a in apis)
    routes = tuple(
        RouteRow(
            i,
            rng.choice(versions).id,
            rng.choice(upstreams).id,
            match_type=rng.choice(["prefix", "exact", "regex"]),
            path=rng.choice(["/", "/users", "/orders/[0-9]+"]),
            methods=tuple(rng.sample(["GET", "POST", "DELETE"], rng.randint(0, 2))),
            position=rng.randint(0, 3),
            cost=rng.choice([1, 1, 5, 10_000]),
            rate_limit_failure=rng.choice(["open", "closed"]),
        )
        for i in range(1, rng.randint(1, 10) + 1)
    )
    credentials = tuple(
        CredentialRow(f"k{i:011d}", bytes(32), rng.randint(1, 3)) for i in range(rng.randint(0, 20))
    )
    return Rows(
        upstreams=upstreams,
        apis=apis,
        versions=versions,
        routes=routes,
        plans=(
            PlanRow(
                1,
                "free",
                "Free",
                1,
                windows=random_windows(rng),
                quota_requests=rng.choice([0, 1000]),
                quota_period_months=rng.choice([1, 12]),
            ),
        ),
        applications=tuple(ApplicationRow(i, f"app_{i}", 2, "p") for i in range(1, 4)),
        subscriptions=tuple(
            SubscriptionRow(
                i,
                rng.randint(1, 3),
                rng.randint(1, 2),
                "free",
                plan_id=1,
                started_at=1_700_000_000 + i,
                windows=random_windows(rng),
                quota_requests=rng.choice([0, 0, 50_000]),
            )
            for i in rng.sample(range(1, 100), rng.randint(0, 20))
        ),
        credentials=credentials,
    )
