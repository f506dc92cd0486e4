"""The snapshot cache and per-stream protocol, driven without gRPC: requests in, answers out."""

from __future__ import annotations

import asyncio

import pytest
from envoy.service.discovery.v3 import discovery_pb2

from tests.xds_server.helpers import make_snapshot, names_of, request
from xds_server import type_urls
from xds_server.cache import DEFAULT_GROUP, SnapshotCache, StreamState, XdsEvent
from xds_server.errors import InconsistentSnapshot

pytestmark = pytest.mark.pure

CDS = type_urls.CLUSTER
EDS = type_urls.ENDPOINT
LDS = type_urls.LISTENER
RDS = type_urls.ROUTE


def _setup(version: str = "v1") -> tuple[SnapshotCache, StreamState, list[XdsEvent]]:
    events: list[XdsEvent] = []
    cache = SnapshotCache(on_event=events.append, clock=lambda: 1234.5)
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot(version))
    return cache, cache.open_stream(), events


def _only(stream: StreamState) -> discovery_pb2.DiscoveryResponse:
    responses = stream.take_responses()
    assert len(responses) == 1, responses
    return responses[0]


def test_initial_wildcard_request_gets_every_cluster() -> None:
    _, stream, _ = _setup()
    stream.handle_request(request(CDS))
    resp = _only(stream)
    assert resp.type_url == CDS
    assert resp.version_info == "v1"
    assert resp.nonce
    assert names_of(resp) == ["orders", "users"]


def test_ack_is_recorded_once_and_nothing_is_resent() -> None:
    _, stream, events = _setup()
    stream.handle_request(request(CDS))
    sent = _only(stream)
    stream.handle_request(request(CDS, version="v1", nonce=sent.nonce))
    assert stream.take_responses() == []
    assert stream.acked_version(CDS) == "v1"
    assert events == [
        XdsEvent("ack", "envoy-1", "tollgate-edge", CDS, "v1", None, 1234.5),
    ]


def test_nack_is_recorded_and_not_resent() -> None:
    cache, stream, events = _setup()
    stream.handle_request(request(CDS))
    sent = _only(stream)
    stream.handle_request(
        request(CDS, version="", nonce=sent.nonce, error="cluster orders: bad lb_policy")
    )
    assert stream.take_responses() == []
    assert stream.rejected_version(CDS) == "v1"
    assert events == [
        XdsEvent(
            "nack", "envoy-1", "tollgate-edge", CDS, "v1", "cluster orders: bad lb_policy", 1234.5
        )
    ]
    # Setting the same rejected version again must not send it again either.
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1"))
    assert stream.take_responses() == []


def test_newer_snapshot_after_nack_is_sent() -> None:
    cache, stream, events = _setup()
    stream.handle_request(request(CDS))
    sent = _only(stream)
    stream.handle_request(request(CDS, nonce=sent.nonce, error="nope"))
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2"))
    resp = _only(stream)
    assert resp.version_info == "v2"
    assert resp.nonce != sent.nonce
    stream.handle_request(request(CDS, version="v2", nonce=resp.nonce))
    assert [e.kind for e in events] == ["nack", "ack"]
    assert stream.acked_version(CDS) == "v2"


def test_stale_nonce_is_ignored() -> None:
    cache, stream, events = _setup()
    stream.handle_request(request(CDS))
    first = _only(stream)
    stream.handle_request(request(CDS, version="v1", nonce=first.nonce))
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2"))
    second = _only(stream)
    # A late NACK of the first response must neither be recorded nor reopen the watch.
    stream.handle_request(request(CDS, version="v1", nonce=first.nonce, error="late"))
    assert [e.kind for e in events] == ["ack"]
    assert stream.rejected_version(CDS) is None
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v3"))
    assert stream.take_responses() == []  # still waiting for the answer to `second`
    stream.handle_request(request(CDS, version="v2", nonce=second.nonce))
    assert _only(stream).version_info == "v3"


def test_new_version_wakes_parked_watch() -> None:
    cache, stream, _ = _setup()
    stream.handle_request(request(CDS))
    sent = _only(stream)
    stream.handle_request(request(CDS, version="v1", nonce=sent.nonce))
    assert stream.take_responses() == []
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2", clusters=("orders",)))
    resp = _only(stream)
    assert (resp.version_info, names_of(resp)) == ("v2", ["orders"])


def test_parked_watch_is_answered_by_the_first_snapshot() -> None:
    cache = SnapshotCache()
    stream = cache.open_stream()
    stream.handle_request(request(CDS))
    assert stream.take_responses() == []
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1"))
    assert _only(stream).version_info == "v1"


def test_waiting_stream_is_woken_by_set_snapshot() -> None:
    async def scenario() -> str:
        cache = SnapshotCache()
        stream = cache.open_stream()
        stream.handle_request(request(CDS))
        waiter = asyncio.create_task(stream.next_responses())
        await asyncio.sleep(0)
        assert not waiter.done()
        cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v9"))
        responses = await asyncio.wait_for(waiter, 1)
        return str(responses[0].version_info)

    assert asyncio.run(scenario()) == "v9"


def test_unchanged_type_version_is_not_resent() -> None:
    cache, stream, _ = _setup()
    for url in (CDS, LDS):
        stream.handle_request(request(url))
    for resp in stream.take_responses():
        stream.handle_request(request(resp.type_url, version="v1", nonce=resp.nonce))
    cache.set_snapshot(
        DEFAULT_GROUP, make_snapshot("v2", type_versions={CDS: "v1", EDS: "v1", RDS: "v1"})
    )
    assert [r.type_url for r in stream.take_responses()] == [LDS]


def test_client_already_holding_the_version_is_not_answered() -> None:
    _, stream, _ = _setup()
    stream.handle_request(request(CDS, version="v1"))
    assert stream.take_responses() == []


def test_named_types_get_only_the_requested_resources() -> None:
    _, stream, _ = _setup()
    stream.handle_request(request(EDS, names=["users"]))
    assert names_of(_only(stream)) == ["users"]
    stream.handle_request(request(RDS, names=["main"]))
    assert names_of(_only(stream)) == ["main"]


def test_new_eds_name_is_answered_at_once_at_the_same_version() -> None:
    _, stream, _ = _setup()
    stream.handle_request(request(EDS, names=["orders"]))
    sent = _only(stream)
    stream.handle_request(request(EDS, version="v1", nonce=sent.nonce, names=["orders", "users"]))
    resp = _only(stream)
    assert (resp.version_info, names_of(resp)) == ("v1", ["orders", "users"])


def test_inconsistent_snapshot_is_refused_and_the_old_one_kept() -> None:
    cache, stream, _ = _setup()
    bad = make_snapshot("v2", route_targets=("orders", "nowhere"))
    with pytest.raises(InconsistentSnapshot) as caught:
        cache.set_snapshot(DEFAULT_GROUP, bad)
    assert 'points at cluster "nowhere"' in caught.value.errors[0]
    snap = cache.get_snapshot(DEFAULT_GROUP)
    assert snap is not None and snap.version == "v1"
    stream.handle_request(request(CDS))
    assert _only(stream).version_info == "v1"


def test_new_snapshot_is_pushed_in_push_order() -> None:
    cache, stream, _ = _setup()
    for url in (RDS, LDS, EDS, CDS, type_urls.CREDENTIAL_SHARD):
        names = ["main"] if url == RDS else ["orders", "users"] if url == EDS else []
        stream.handle_request(request(url, version="v1", names=names))
    for resp in stream.take_responses():  # the named types answer their new subscription
        stream.handle_request(
            request(resp.type_url, version="v1", nonce=resp.nonce, names=names_of(resp))
        )
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2"))
    assert [r.type_url for r in stream.take_responses()] == [
        CDS,
        EDS,
        LDS,
        RDS,
        type_urls.CREDENTIAL_SHARD,
    ]


def test_node_group_without_snapshot_falls_back_to_default() -> None:
    cache, _, _ = _setup()
    sidecar = cache.open_stream()
    sidecar.handle_request(request(type_urls.CREDENTIAL_SHARD, node_cluster="tollgate"))
    first = _only(sidecar)
    assert names_of(first) == ["credentials/0"]
    cache.set_snapshot("tollgate", make_snapshot("t1", credential_shards=("credentials/9",)))
    sidecar.handle_request(request(type_urls.CREDENTIAL_SHARD, version="v1", nonce=first.nonce))
    resp = _only(sidecar)
    assert (resp.version_info, names_of(resp)) == ("t1", ["credentials/9"])


def test_closed_stream_is_forgotten() -> None:
    cache, stream, _ = _setup()
    assert cache.stream_count == 1
    stream.handle_request(request(CDS))
    cache.close_stream(stream)
    assert cache.stream_count == 0
    assert stream.take_responses() == []
    assert asyncio.run(stream.next_responses()) == []


def test_failing_event_hook_does_not_break_the_stream() -> None:
    def broken(event: XdsEvent) -> None:
        raise RuntimeError("mgmt is sad")

    cache = SnapshotCache(on_event=broken)
    cache.set_snapshot(DEFAULT_GROUP, make_snapshot())
    stream = cache.open_stream()
    stream.handle_request(request(CDS))
    sent = _only(stream)
    stream.handle_request(request(CDS, version="v1", nonce=sent.nonce))
    assert stream.acked_version(CDS) == "v1"


def test_endpoints_are_sent_again_to_a_cluster_replaced_while_they_stayed_the_same() -> None:
    """A changed EDS cluster (say, TLS added) warms in Envoy until it gets its endpoints, and
    Envoy asks for them with the version it holds: that request is answered (the xDS
    protocol's "resource warming"; go-control-plane once left such clusters warming)."""
    cache, stream, _ = _setup()
    stream.handle_request(request(CDS))
    clusters = _only(stream)
    stream.handle_request(request(CDS, version="v1", nonce=clusters.nonce))
    stream.handle_request(request(EDS, names=["orders", "users"]))
    endpoints = _only(stream)
    stream.handle_request(
        request(EDS, version="v1", nonce=endpoints.nonce, names=["orders", "users"])
    )
    assert stream.take_responses() == []  # an ACK, nothing new

    cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v2", type_versions={EDS: "v1"}))
    new_clusters = _only(stream)
    assert (new_clusters.type_url, new_clusters.version_info) == (CDS, "v2")
    stream.handle_request(request(CDS, version="v2", nonce=new_clusters.nonce))
    # The warming cluster's request: the same names, version and nonce as the last ACK.
    stream.handle_request(
        request(EDS, version="v1", nonce=endpoints.nonce, names=["orders", "users"])
    )
    again = _only(stream)
    assert (again.type_url, again.version_info) == (EDS, "v1")
    assert names_of(again) == ["orders", "users"]
    # Its ACK is only an ACK.
    stream.handle_request(request(EDS, version="v1", nonce=again.nonce, names=["orders", "users"]))
    assert stream.take_responses() == []
