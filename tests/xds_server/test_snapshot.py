"""The frozen Snapshot value and its consistency check."""

from __future__ import annotations

import pytest

from protos.tollgate.v1 import snapshot_pb2
from tests.xds_server.helpers import eds_cluster, make_snapshot, packed
from xds_server import type_urls
from xds_server.errors import InvalidSnapshot
from xds_server.snapshot import Snapshot

pytestmark = pytest.mark.pure


def test_consistent_snapshot_has_no_errors() -> None:
    assert make_snapshot().consistency_errors() == []


def test_eds_cluster_without_load_assignment_is_reported() -> None:
    snap = make_snapshot(clusters=("orders", "users"), endpoints=("orders",))
    assert snap.consistency_errors() == [
        'cluster "users" takes its endpoints from EDS "users", which has no ClusterLoadAssignment'
    ]


def test_eds_service_name_is_used_instead_of_cluster_name() -> None:
    msg = make_snapshot(clusters=("orders",)).to_proto()
    cds = next(s for s in msg.sets if s.type_url == type_urls.CLUSTER)
    cds.resources[0].body.CopyFrom(packed(eds_cluster("orders", service_name="orders-eds")))
    errors = Snapshot.from_proto(msg).consistency_errors()
    assert errors == [
        'cluster "orders" takes its endpoints from EDS "orders-eds", '
        "which has no ClusterLoadAssignment",
        'ClusterLoadAssignment "orders" is not used by any EDS cluster',
    ]


def test_unreferenced_load_assignment_is_reported() -> None:
    snap = make_snapshot(clusters=("orders",), endpoints=("orders", "ghost"))
    assert snap.consistency_errors() == [
        'ClusterLoadAssignment "ghost" is not used by any EDS cluster'
    ]


def test_listener_using_missing_route_configuration_is_reported() -> None:
    snap = make_snapshot(listener_routes="main", routes=("other",))
    assert snap.consistency_errors() == [
        'listener "http" uses route configuration "main", which does not exist'
    ]


def test_route_to_unknown_cluster_is_reported() -> None:
    snap = make_snapshot(clusters=("orders",), route_targets=("orders", "billing"))
    assert snap.consistency_errors() == [
        'route "r1" in virtual host "api" of route configuration "main" points at '
        'cluster "billing", which does not exist'
    ]


def test_weighted_cluster_to_unknown_cluster_is_reported() -> None:
    from envoy.config.route.v3 import route_pb2

    msg = make_snapshot(clusters=("orders",)).to_proto()
    rds = next(s for s in msg.sets if s.type_url == type_urls.ROUTE)
    rc = route_pb2.RouteConfiguration(name="main")
    route = rc.virtual_hosts.add(name="api", domains=["*"]).routes.add(name="split")
    route.match.prefix = "/"
    route.route.weighted_clusters.clusters.add(name="orders", weight={"value": 90})
    route.route.weighted_clusters.clusters.add(name="canary", weight={"value": 10})
    rds.resources[0].body.CopyFrom(packed(rc))
    assert Snapshot.from_proto(msg).consistency_errors() == [
        'route "split" in virtual host "api" of route configuration "main" points at '
        'cluster "canary", which does not exist'
    ]


def test_body_of_the_wrong_type_is_reported() -> None:
    msg = make_snapshot(clusters=("orders",)).to_proto()
    lds = next(s for s in msg.sets if s.type_url == type_urls.LISTENER)
    lds.resources[0].body.CopyFrom(packed(eds_cluster("x")))
    errors = Snapshot.from_proto(msg).consistency_errors()
    assert errors == ['Listener "http" holds a Cluster instead']


def test_round_trip_through_bytes_keeps_everything() -> None:
    snap = make_snapshot("v7", type_versions={type_urls.ROUTE: "r3"})
    again = Snapshot.from_bytes(snap.to_bytes())
    assert again == snap
    assert again.version == "v7"
    assert again.compiled_at == 1700000000
    assert again.type_version(type_urls.ROUTE) == "r3"
    assert list(again.resources(type_urls.CLUSTER)) == ["orders", "users"]
    assert again.to_bytes() == snap.to_bytes()


def test_snapshot_cannot_be_changed_after_it_is_built() -> None:
    snap = make_snapshot()
    with pytest.raises(TypeError):
        snap.sets[type_urls.CLUSTER] = snap.sets[type_urls.ROUTE]  # type: ignore[index]
    with pytest.raises(TypeError):
        snap.resources(type_urls.CLUSTER)["x"] = packed(eds_cluster("x"))  # type: ignore[index]


def test_undecodable_bytes_are_an_invalid_snapshot() -> None:
    with pytest.raises(InvalidSnapshot):
        Snapshot.from_bytes(b"\xff\xff\xff")


def test_duplicate_resource_name_is_an_invalid_snapshot() -> None:
    msg = snapshot_pb2.Snapshot(version="v1")
    rs = msg.sets.add(type_url=type_urls.CLUSTER, version="v1")
    rs.resources.add(name="a", body=packed(eds_cluster("a")))
    rs.resources.add(name="a", body=packed(eds_cluster("a")))
    with pytest.raises(InvalidSnapshot, match="appears twice"):
        Snapshot.from_proto(msg)
