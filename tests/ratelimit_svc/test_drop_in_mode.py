"""Standalone from an envoyproxy/ratelimit-style YAML file: the handler on the real Redis."""

import uuid
from pathlib import Path

import pytest

from ratelimit_svc.limits import Algorithm
from ratelimit_svc.metrics import RateLimitMetrics
from ratelimit_svc.redis_store import RedisCounterStore
from ratelimit_svc.service import RuleResolver, ShouldRateLimitHandler
from ratelimit_svc.yaml_config import load_config, parse_config
from tests.ratelimit_svc.helpers import OK, OVER_LIMIT, FakeContext, descriptors_request, parse

pytestmark = pytest.mark.redis

EXAMPLE = Path(__file__).resolve().parents[2] / "ratelimit_svc" / "examples" / "ratelimit.yaml"
NOW = 1_800_000_000.5


def handler_for(config_text: str, redis_url: str) -> ShouldRateLimitHandler:
    config = parse_config(config_text, default_algorithm=Algorithm.SLIDING)
    return ShouldRateLimitHandler(
        RuleResolver(None, config),
        RedisCounterStore(redis_url, timeout=1.0),
        RateLimitMetrics(),
        clock=lambda: NOW,
    )


def codes(handler: ShouldRateLimitHandler, domain: str, *descriptors, times: int = 1) -> list[int]:  # type: ignore[no-untyped-def]
    return [
        parse(handler(descriptors_request(domain, *descriptors), FakeContext())).overall_code  # type: ignore[arg-type]
        for _ in range(times)
    ]


def test_the_example_configuration_loads_and_limits(machine_redis: str) -> None:
    config = load_config([EXAMPLE])
    handler = ShouldRateLimitHandler(
        RuleResolver(None, config),
        RedisCounterStore(machine_redis, timeout=1.0),
        RateLimitMetrics(),
        clock=lambda: NOW,
    )
    client = f"203.0.113.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:8]}"
    assert codes(handler, "edge", [("remote_address", client)], times=51) == [OK] * 50 + [
        OVER_LIMIT
    ]


def test_each_value_is_counted_apart_and_unicode_is_just_a_value(machine_redis: str) -> None:
    domain = f"d-{uuid.uuid4().hex}"
    handler = handler_for(
        f"""
domain: {domain}
descriptors:
  - key: user
    rate_limit: {{unit: hour, requests_per_unit: 2}}
""",
        machine_redis,
    )
    assert codes(handler, domain, [("user", "zoë 🚀")], times=3) == [OK, OK, OVER_LIMIT]
    assert codes(handler, domain, [("user", "zoe")], times=2) == [OK, OK]
    assert codes(handler, domain, [("user", "{tag}:x")], times=3) == [OK, OK, OVER_LIMIT]


def test_unknown_keys_and_domains_are_not_limited(machine_redis: str) -> None:
    domain = f"d-{uuid.uuid4().hex}"
    handler = handler_for(
        f"""
domain: {domain}
descriptors:
  - key: user
    rate_limit: {{unit: hour, requests_per_unit: 1}}
""",
        machine_redis,
    )
    assert codes(handler, domain, [("tenant", "x")], times=3) == [OK] * 3
    assert codes(handler, "another-domain", [("user", "x")], times=3) == [OK] * 3


def test_one_descriptor_over_its_limit_consumes_no_other_descriptors_budget(
    machine_redis: str,
) -> None:
    domain = f"d-{uuid.uuid4().hex}"
    handler = handler_for(
        f"""
domain: {domain}
descriptors:
  - key: user
    rate_limit: {{unit: hour, requests_per_unit: 1}}
  - key: tenant
    rate_limit: {{unit: hour, requests_per_unit: 3}}
""",
        machine_redis,
    )
    both = ([("user", "a")], [("tenant", "t")])
    assert codes(handler, domain, *both, times=4) == [OK, OVER_LIMIT, OVER_LIMIT, OVER_LIMIT]
    # The three refused requests did not count against the tenant: two of three remain.
    assert codes(handler, domain, [("tenant", "t")], times=3) == [OK, OK, OVER_LIMIT]
