"""The ADS client against a scripted in-process ADS server on loopback."""

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2

from extauthz.store import Store
from extauthz.xds_client import XdsClient, backoff_delay
from tests.extauthz.factories import World, application_shards, credential_shards
from xds_server.type_urls import APPLICATION_SHARD, CREDENTIAL_SHARD

TIMEOUT = 10.0


class FakeAds:
    """Records every DiscoveryRequest; sends whatever the test puts in `outbox`."""

    def __init__(self, port: int = 0) -> None:
        self.requests: queue.Queue[Any] = queue.Queue()
        self.outbox: queue.Queue[Any] = queue.Queue()
        self.server = grpc.server(threadpool())
        handler = grpc.stream_stream_rpc_method_handler(
            self._stream,
            request_deserializer=discovery_pb2.DiscoveryRequest.FromString,
            response_serializer=discovery_pb2.DiscoveryResponse.SerializeToString,
        )
        self.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "envoy.service.discovery.v3.AggregatedDiscoveryService",
                    {"StreamAggregatedResources": handler},
                ),
            )
        )
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        self.server.start()

    def _stream(self, requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        def read() -> None:
            try:
                for request in requests:
                    self.requests.put(request)
            except grpc.RpcError:
                pass  # the stream ended: the client went away or the server stopped

        threading.Thread(target=read, daemon=True).start()
        while context.is_active():
            try:
                yield self.outbox.get(timeout=0.05)
            except queue.Empty:
                continue

    def send(self, type_url: str, version: str, values: list[bytes]) -> str:
        nonce = f"{type_url.rsplit('.', 1)[-1]}-{version}"
        resources = [any_pb2.Any(type_url=type_url, value=value) for value in values]
        self.outbox.put(
            discovery_pb2.DiscoveryResponse(
                type_url=type_url, version_info=version, nonce=nonce, resources=resources
            )
        )
        return nonce

    def wait_for(self, accept: Callable[[Any], bool]) -> Any:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                request = self.requests.get(timeout=0.1)
            except queue.Empty:
                continue
            if accept(request):
                return request
        raise AssertionError("the expected DiscoveryRequest never came")

    def stop(self) -> None:
        self.server.stop(0).wait()


def threadpool() -> Any:
    from concurrent import futures

    return futures.ThreadPoolExecutor(max_workers=8)


@pytest.fixture
def ads() -> Iterator[FakeAds]:
    server = FakeAds()
    yield server
    server.stop()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def client(ads: FakeAds, store: Store) -> Iterator[XdsClient]:
    client = XdsClient(store, f"127.0.0.1:{ads.port}", node_id="extauthz-test", token="t")
    client.start()
    yield client
    client.stop()


def load_world(ads: FakeAds, world: World, version: str) -> tuple[str, str]:
    credentials = ads.send(CREDENTIAL_SHARD, version, credential_shards(world.credentials))
    applications = ads.send(APPLICATION_SHARD, version, application_shards([world.partner]))
    return credentials, applications


def test_client_subscribes_to_both_types_as_a_tollgate_node(
    ads: FakeAds, client: XdsClient
) -> None:
    first = ads.wait_for(lambda r: r.type_url == CREDENTIAL_SHARD)
    second = ads.wait_for(lambda r: r.type_url == APPLICATION_SHARD)
    for request in (first, second):
        assert request.node.id == "extauthz-test"
        assert request.node.cluster == "tollgate"
        assert list(request.resource_names) == []
        assert request.response_nonce == ""


def test_applied_responses_are_acked_and_the_store_is_published(
    ads: FakeAds, client: XdsClient, store: Store
) -> None:
    world = World()
    credentials_nonce, applications_nonce = load_world(ads, world, "v1")

    acks = [
        ads.wait_for(lambda r: r.response_nonce == credentials_nonce),
        ads.wait_for(lambda r: r.response_nonce == applications_nonce),
    ]
    for ack in acks:
        assert ack.version_info == "v1"
        assert not ack.HasField("error_detail")
    assert store.snapshot is not None
    assert store.snapshot.credential(world.keys["partner"].key_id) is not None


def test_unusable_response_is_nacked_with_previous_version_and_data_kept(
    ads: FakeAds, client: XdsClient, store: Store
) -> None:
    world = World()
    _, applications_nonce = load_world(ads, world, "v1")
    ads.wait_for(lambda r: r.response_nonce == applications_nonce)
    before = store.snapshot

    bad_nonce = ads.send(CREDENTIAL_SHARD, "v2", [b"\xff\xff\xff"])
    nack = ads.wait_for(lambda r: r.response_nonce == bad_nonce)

    assert nack.version_info == "v1"
    assert nack.error_detail.message
    assert store.snapshot is before


def test_client_reconnects_after_the_server_restarts_and_keeps_serving_meanwhile(
    ads: FakeAds, client: XdsClient, store: Store
) -> None:
    world = World()
    _, applications_nonce = load_world(ads, world, "v1")
    ads.wait_for(lambda r: r.response_nonce == applications_nonce)
    port = ads.port
    ads.stop()
    assert store.snapshot is not None  # still serving the last data

    restarted = FakeAds(port)
    try:
        resumed = restarted.wait_for(lambda r: r.type_url == CREDENTIAL_SHARD)
        assert resumed.version_info == "v1"  # tells the server what it already has
        newer = World()
        nonce, _ = load_world(restarted, newer, "v2")
        restarted.wait_for(lambda r: r.response_nonce == nonce)
        assert store.snapshot.credential(newer.keys["partner"].key_id) is not None
        assert store.snapshot.credential(world.keys["partner"].key_id) is None
    finally:
        restarted.stop()


@pytest.mark.pure
def test_backoff_is_jittered_and_capped_at_one_second() -> None:
    highs = [backoff_delay(attempt, rng=lambda low, high: high) for attempt in range(40)]
    assert highs[0] < highs[1] < highs[2]
    assert max(highs) == 1.0
    assert backoff_delay(5, rng=lambda low, high: low) == 0.0
