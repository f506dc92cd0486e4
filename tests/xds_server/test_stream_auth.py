"""Who may open an ADS stream and what it may ask, over a real loopback gRPC server.

Every refusal is a clear gRPC status, the server carries on serving others, and nothing is
recorded under an identity the client did not prove.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.xds_server.helpers import (
    ENVOY_TOKEN,
    SIDECAR_TOKEN,
    credential_store,
    make_snapshot,
    names_of,
    request,
)
from tests.xds_server.test_server import Client, run, running
from xds_server import credentials, type_urls
from xds_server.cache import DEFAULT_GROUP, SnapshotCache, XdsEvent
from xds_server.server import StreamLimits

CDS = type_urls.CLUSTER
EDS = type_urls.ENDPOINT
KEYS = type_urls.CREDENTIAL_SHARD
ADS_METHOD = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"


def _cache() -> tuple[SnapshotCache, list[XdsEvent]]:
    events: list[XdsEvent] = []
    cache = SnapshotCache(on_event=events.append)
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1"))
    return cache, events


async def _refused(client: Client) -> tuple[grpc.StatusCode, str]:
    """The status the server ended `client`'s stream with; fails if a response came first."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.read()
    return caught.value.code(), caught.value.details() or ""


@pytest.mark.parametrize(
    "token",
    [None, "tgx_not-a-known-token-at-all-0000000000000000000", "x" * 1_000],
    ids=["no-metadata", "unknown-token", "huge-token"],
)
def test_a_stream_without_a_known_credential_is_unauthenticated_and_nothing_is_read(
    tmp_path: Path, token: str | None
) -> None:
    cache, events = _cache()

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json")) as channel:
            # Refused before the client sends anything: nothing of it is read.
            client = Client(channel, token=token)
            code, details = await _refused(client)
            assert code == grpc.StatusCode.UNAUTHENTICATED
            assert "credential" in details
            if token:
                assert token not in details
            assert cache.stream_count == 0

    run(scenario)
    assert events == []


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", ENVOY_TOKEN])
def test_authorization_that_is_not_one_bearer_token_is_unauthenticated(
    tmp_path: Path, header: str
) -> None:
    cache, _ = _cache()

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json")) as channel:
            client = Client(channel, token=None)
            client.call.cancel()
            call: Any = channel.stream_stream(
                ADS_METHOD,
                request_serializer=lambda r: r.SerializeToString(),
                response_deserializer=lambda b: b,
            )(metadata=(("authorization", header),))
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await asyncio.wait_for(call.read(), 2)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    run(scenario)


def test_envoy_credential_may_not_read_key_shards_and_gets_none(tmp_path: Path) -> None:
    cache, _ = _cache()

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json")) as channel:
            client = Client(channel, token=ENVOY_TOKEN)
            await client.send(request(KEYS, node_id="envoy-1"))
            code, details = await _refused(client)
            assert code == grpc.StatusCode.PERMISSION_DENIED
            assert "envoy credential may not read" in details

    run(scenario)


def test_a_sidecar_credential_may_not_read_tls_private_keys(tmp_path: Path) -> None:
    cache, events = _cache()

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json")) as channel:
            client = Client(channel, token=SIDECAR_TOKEN)
            await client.send(
                request(type_urls.SECRET, names=["tls/gateway"], node_id="sidecar-1/extauthz")
            )
            code, details = await _refused(client)
            assert code == grpc.StatusCode.PERMISSION_DENIED
            assert "sidecar credential may not read" in details

    run(scenario)
    assert events == []


def test_sidecar_credential_reads_key_shards_as_a_suffixed_node_but_not_clusters(
    tmp_path: Path,
) -> None:
    cache, events = _cache()

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json")) as channel:
            sidecar = Client(channel, token=SIDECAR_TOKEN)
            await sidecar.send(request(KEYS, node_id="sidecar-1/extauthz-host-7"))
            shards = await sidecar.read()
            assert names_of(shards) == ["credentials/0"]
            await sidecar.send(
                request(KEYS, version="v1", nonce=shards.nonce, node_id="sidecar-1/extauthz-host-7")
            )
            await sidecar.send(request(CDS, node_id="sidecar-1/extauthz-host-7"))
            code, _ = await _refused(sidecar)
            assert code == grpc.StatusCode.PERMISSION_DENIED

    run(scenario)
    assert [(e.kind, e.node_id) for e in events] == [("ack", "sidecar-1/extauthz-host-7")]


@pytest.mark.parametrize(
    "node_id",
    ["gateway-1", "envoy-10", "envoy-1x/a", "sidecar-1/envoy-1", "envoy-1 ", "", "envoy-1/\x00"],
)
def test_a_node_id_the_credential_does_not_prove_is_denied_and_nothing_recorded(
    tmp_path: Path, node_id: str
) -> None:
    cache, events = _cache()

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json")) as channel:
            client = Client(channel, token=ENVOY_TOKEN)
            # A NACK in the very first request: it must not be recorded for anyone.
            await client.send(request(CDS, node_id=node_id, error="forged"))
            code, _ = await _refused(client)
            assert code == grpc.StatusCode.PERMISSION_DENIED

    run(scenario)
    assert events == []


def test_a_stream_cannot_switch_node_midway(tmp_path: Path) -> None:
    cache, events = _cache()
    store = credential_store(tmp_path / "c.json", ("gateway-1", "envoy", "tgx_" + "g" * 43))

    async def scenario() -> None:
        async with running(cache, store) as channel:
            client = Client(channel, token=ENVOY_TOKEN)
            await client.send(request(CDS, node_id="envoy-1"))
            first = await client.read()
            await client.send(request(CDS, version="v1", nonce=first.nonce))
            cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2"))
            pushed = await client.read()
            # A NACK of v2 that claims to come from gateway-1 (whose token it lacks).
            await client.send(request(CDS, nonce=pushed.nonce, error="forged", node_id="gateway-1"))
            code, details = await _refused(client)
            assert code == grpc.StatusCode.PERMISSION_DENIED
            assert "switch node" in details

    run(scenario)
    assert [(e.kind, e.node_id, e.version) for e in events] == [("ack", "envoy-1", "v1")]


def test_a_first_request_without_a_node_is_invalid_argument(tmp_path: Path) -> None:
    cache, _ = _cache()

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json")) as channel:
            client = Client(channel, token=ENVOY_TOKEN)
            req = request(CDS)
            req.ClearField("node")
            await client.send(req)
            code, details = await _refused(client)
            assert code == grpc.StatusCode.INVALID_ARGUMENT
            assert "node" in details

    run(scenario)


def test_garbage_on_the_stream_ends_it_and_others_are_still_served(tmp_path: Path) -> None:
    cache, events = _cache()

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json")) as channel:
            call: Any = channel.stream_stream(
                ADS_METHOD, request_serializer=None, response_deserializer=None
            )(metadata=(("authorization", f"Bearer {ENVOY_TOKEN}"),))
            await call.write(b"\xff\xff\xff\xff not a protobuf \x00\x01")
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await asyncio.wait_for(call.read(), 2)
            assert caught.value.code() != grpc.StatusCode.OK
            good = Client(channel, token=ENVOY_TOKEN)
            await good.send(request(CDS))
            assert names_of(await good.read()) == ["orders", "users"]
            await good.close()

    run(scenario)
    assert events == []


def test_too_many_names_in_one_request_is_resource_exhausted(tmp_path: Path) -> None:
    cache, _ = _cache()
    limits = StreamLimits(max_resource_names=100)

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json"), limits) as channel:
            within = Client(channel, token=ENVOY_TOKEN)
            await within.send(request(EDS, names=[f"c{i}" for i in range(99)] + ["orders"]))
            assert names_of(await within.read()) == ["orders"]
            over = Client(channel, token=ENVOY_TOKEN)
            await over.send(request(EDS, names=[f"c{i}" for i in range(101)]))
            code, details = await _refused(over)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "101 resource names" in details
            await within.close()

    run(scenario)


def test_a_message_over_the_size_limit_is_resource_exhausted(tmp_path: Path) -> None:
    cache, _ = _cache()
    limits = StreamLimits(max_message_bytes=64 * 1024)

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json"), limits) as channel:
            client = Client(channel, token=ENVOY_TOKEN)
            await client.send(request(EDS, names=["n" * 1000] * 100))
            code, _ = await _refused(client)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED

    run(scenario)


def test_streams_per_credential_are_capped_and_a_closed_one_frees_its_place(
    tmp_path: Path,
) -> None:
    cache, _ = _cache()
    limits = StreamLimits(max_streams_per_credential=2)

    async def scenario() -> None:
        async with running(cache, credential_store(tmp_path / "c.json"), limits) as channel:
            first, second = Client(channel), Client(channel)
            for client in (first, second):
                await client.send(request(CDS))
                await client.read()
            third = Client(channel)
            code, details = await _refused(third)
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "already holds 2 streams" in details
            # Another credential is not counted against envoy-1's.
            sidecar = Client(channel, token=SIDECAR_TOKEN)
            await sidecar.send(request(KEYS, node_id="sidecar-1/x"))
            await sidecar.read()
            await first.close()
            for _ in range(100):
                if cache.stream_count == 2:
                    break
                await asyncio.sleep(0.01)
            fourth = Client(channel)
            await fourth.send(request(CDS))
            assert names_of(await fourth.read()) == ["orders", "users"]
            for client in (second, sidecar, fourth):
                await client.close()

    run(scenario)


def test_revoking_a_credential_ends_its_open_stream_and_refuses_the_next(tmp_path: Path) -> None:
    cache, _ = _cache()
    path = tmp_path / "c.json"
    store = credential_store(path)

    async def scenario() -> None:
        async with running(cache, store) as channel:
            envoy, sidecar = Client(channel), Client(channel, token=SIDECAR_TOKEN)
            await envoy.send(request(CDS))
            await envoy.read()
            await sidecar.send(request(KEYS, node_id="sidecar-1"))
            shards = await sidecar.read()
            await sidecar.send(request(KEYS, version="v1", nonce=shards.nonce, node_id="sidecar-1"))
            credentials.save(path, credentials.revoked(credentials.load(path), "envoy-1"))
            assert store.reload_if_changed()
            code, details = await _refused(envoy)
            assert (code, details) == (
                grpc.StatusCode.UNAUTHENTICATED,
                "the xDS credential was revoked",
            )
            again = Client(channel)
            assert (await _refused(again))[0] == grpc.StatusCode.UNAUTHENTICATED
            # The other credential's stream is untouched: it still gets pushes.
            cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2", credential_shards=("k/1",)))
            assert names_of(await sidecar.read()) == ["k/1"]
            await sidecar.close()

    run(scenario)
