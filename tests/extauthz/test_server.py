"""The Check server over a real loopback gRPC channel, counting on its own event loop."""

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from envoy.service.auth.v3 import external_auth_pb2, external_auth_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from extauthz.gate import Gate
from extauthz.http_server import new_event_loop
from extauthz.meter import Meter
from extauthz.server import SERVICE_NAME, RunningServer, start_server
from extauthz.store import Store
from ratelimit_svc.async_redis_store import AsyncCounterStore
from ratelimit_svc.subscription_rules import SubscriptionRules
from tests.conftest import MACHINE_REDIS
from tests.extauthz.factories import World, application_shards, credential_shards, route
from tests.ratelimit_svc.helpers import limits, shards, window


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def rules() -> SubscriptionRules:
    return SubscriptionRules()


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The sidecar's event loop, in a thread of its own as under `python -m extauthz`."""
    loop = new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture
def running(
    store: Store, rules: SubscriptionRules, loop: asyncio.AbstractEventLoop
) -> Iterator[RunningServer]:
    counters = AsyncCounterStore(MACHINE_REDIS)
    meter = Meter(rules, counters)
    meter.bind(loop)
    gate = Gate(store, meter)
    server = start_server(store, gate, loop, address="127.0.0.1", port=0, workers=4)
    yield server
    server.stop(0)


@pytest.fixture
def channel(running: RunningServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        yield channel


def check_request(headers: dict[str, str], extensions: dict[str, str]) -> Any:
    request = external_auth_pb2.CheckRequest()
    request.attributes.request.http.headers.update(headers)
    request.attributes.context_extensions.update(extensions)
    return request


def health_status(channel: grpc.Channel, service: str) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    status: int = response.status
    return status


def test_check_fails_closed_with_503_and_health_not_serving_before_the_first_snapshot(
    channel: grpc.Channel,
) -> None:
    stub = external_auth_pb2_grpc.AuthorizationStub(channel)
    response = stub.Check(check_request({}, route()), timeout=5)
    assert response.denied_response.status.code == 503
    problem = json.loads(response.denied_response.body)
    assert problem["type"] == "https://tollgate.dev/problems/authorization-unavailable"
    for service in ("", SERVICE_NAME):
        assert health_status(channel, service) == health_pb2.HealthCheckResponse.NOT_SERVING


def test_check_allows_and_denies_once_the_store_is_loaded(
    channel: grpc.Channel, store: Store
) -> None:
    world = World()
    store.replace_credential_shards(credential_shards(world.credentials))
    store.replace_application_shards(application_shards([world.partner, world.owner]))
    stub = external_auth_pb2_grpc.AuthorizationStub(channel)

    allowed = stub.Check(check_request({"x-api-key": world.secret("partner")}, route()), timeout=5)
    denied = stub.Check(check_request({"x-api-key": world.secret("revoked")}, route()), timeout=5)
    missing = stub.Check(check_request({}, route()), timeout=5)

    assert allowed.status.code == 0
    assert list(allowed.ok_response.headers_to_remove) == ["x-api-key"]
    assert denied.denied_response.status.code == 401
    assert missing.denied_response.status.code == 401
    assert health_status(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING


def test_raw_header_map_is_read_when_envoy_encodes_raw_headers(
    channel: grpc.Channel, store: Store
) -> None:
    world = World()
    store.replace_credential_shards(credential_shards(world.credentials))
    store.replace_application_shards(application_shards([world.partner]))
    request = check_request({}, route())
    header = request.attributes.request.http.header_map.headers.add()
    header.key = "x-api-key"
    header.raw_value = world.secret("partner").encode()
    odd = request.attributes.request.http.header_map.headers.add()
    odd.key = "x-odd"
    odd.raw_value = b"\xff\xfe"

    response = external_auth_pb2_grpc.AuthorizationStub(channel).Check(request, timeout=5)

    assert response.status.code == 0


def test_health_turns_not_serving_when_shutdown_begins(
    running: RunningServer, channel: grpc.Channel, store: Store
) -> None:
    world = World()
    store.replace_credential_shards(credential_shards(world.credentials))
    store.replace_application_shards(application_shards([world.partner]))
    assert health_status(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING

    running.health.enter_graceful_shutdown()
    # A later snapshot must not turn it back to SERVING while draining.
    store.replace_application_shards(application_shards([world.partner]))

    assert health_status(channel, SERVICE_NAME) == health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.mark.redis
def test_a_metered_call_is_counted_on_the_loop_and_shows_its_ratelimit_headers(
    channel: grpc.Channel, store: Store, rules: SubscriptionRules, machine_redis: str
) -> None:
    world = World()
    store.replace_credential_shards(credential_shards(world.credentials))
    store.replace_application_shards(application_shards([world.partner]))
    subscription = int(world.partner.grants[0].subscription_id)
    # A fresh subscription id each run would be better; the hour window below makes a
    # rerun within the hour start from the previous count, so only the shape is asserted.
    rules.replace_shards(shards([limits(subscription, [window(10**6, 3600, unit="hour")])]))
    stub = external_auth_pb2_grpc.AuthorizationStub(channel)

    answer = stub.Check(check_request({"x-api-key": world.secret("partner")}, route()), timeout=5)

    assert answer.status.code == 0
    added = {o.header.key: o.header.value for o in answer.ok_response.response_headers_to_add}
    assert added["ratelimit-policy"] == '"hour";q=1000000;w=3600'
    assert added["ratelimit"].startswith('"hour";r=')
    # The prebuilt identity stays intact under the appended part.
    assert list(answer.ok_response.headers_to_remove) == ["x-api-key"]
