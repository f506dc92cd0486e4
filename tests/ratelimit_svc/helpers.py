"""Building RateLimitRequests, subscription limits and a gRPC context for handler tests."""

from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import grpc
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2

from protos.tollgate.v1 import resources_pb2
from ratelimit_svc.subscription_rules import SubscriptionRules

SHARDS = 16
SLIDING = resources_pb2.RateLimitWindow.SLIDING
FIXED = resources_pb2.RateLimitWindow.FIXED


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class FakeContext:
    """The part of grpc.ServicerContext the handler uses: abort raises."""

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        raise Aborted(code, details)


def window(
    requests: int,
    seconds: int,
    *,
    unit: str = "second",
    algorithm: int = SLIDING,
    shadow: bool = False,
) -> resources_pb2.RateLimitWindow:
    return resources_pb2.RateLimitWindow(
        requests=requests, window_seconds=seconds, unit=unit, algorithm=algorithm, shadow=shadow
    )


def limits(
    subscription_id: int,
    windows: Sequence[resources_pb2.RateLimitWindow] = (),
    *,
    quota: resources_pb2.RateLimitQuota | None = None,
    application_id: int = 7,
    plan: str = "gold",
) -> resources_pb2.SubscriptionLimits:
    message = resources_pb2.SubscriptionLimits(
        subscription_id=subscription_id,
        application_id=application_id,
        plan=plan,
        windows=list(windows),
    )
    if quota is not None:
        message.quota.CopyFrom(quota)
    return message


def shards(subscriptions: Iterable[resources_pb2.SubscriptionLimits]) -> list[bytes]:
    built = [
        resources_pb2.RateLimitShard(name=f"rate-limits/{i}", index=i, shard_count=SHARDS)
        for i in range(SHARDS)
    ]
    for sub in subscriptions:
        built[sub.subscription_id % SHARDS].subscriptions.append(sub)
    return [s.SerializeToString() for s in built]


def loaded_rules(*subscriptions: resources_pb2.SubscriptionLimits) -> SubscriptionRules:
    rules = SubscriptionRules()
    rules.replace_shards(shards(subscriptions))
    return rules


def request(
    subscription_id: int | str,
    *,
    domain: str = "tollgate",
    hits: int = 0,
    extra: Sequence[tuple[str, str]] = (("application", "7"), ("route", "1")),
) -> Any:
    entries = [
        ratelimit_pb2.RateLimitDescriptor.Entry(key="subscription", value=str(subscription_id))
    ]
    entries += [ratelimit_pb2.RateLimitDescriptor.Entry(key=k, value=v) for k, v in extra]
    descriptor = ratelimit_pb2.RateLimitDescriptor(entries=entries)
    if hits:
        descriptor.hits_addend.value = hits
    return rls_pb2.RateLimitRequest(domain=domain, descriptors=[descriptor])


def descriptors_request(domain: str, *descriptors: Sequence[tuple[str, str]]) -> Any:
    return rls_pb2.RateLimitRequest(
        domain=domain,
        descriptors=[
            ratelimit_pb2.RateLimitDescriptor(
                entries=[ratelimit_pb2.RateLimitDescriptor.Entry(key=k, value=v) for k, v in d]
            )
            for d in descriptors
        ],
    )


def parse(raw: bytes) -> Any:
    return rls_pb2.RateLimitResponse.FromString(raw)


def headers(response: Any) -> dict[str, str]:
    return {h.key: h.value for h in response.response_headers_to_add}


def remaining(response: Any, policy: str) -> int:
    """The `r` of one policy in the RateLimit header."""
    for item in headers(response)["ratelimit"].split(", "):
        name, *params = item.split(";")
        if name == f'"{policy}"':
            return int(dict(p.split("=") for p in params)["r"])
    raise AssertionError(f"no policy {policy} in {headers(response)['ratelimit']}")


OK = rls_pb2.RateLimitResponse.OK
OVER_LIMIT = rls_pb2.RateLimitResponse.OVER_LIMIT
