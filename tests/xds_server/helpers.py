"""Small real-Envoy snapshots for the xds_server tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import config_source_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from google.protobuf.message import Message

from protos.tollgate.v1 import resources_pb2, snapshot_pb2
from xds_server import credentials, type_urls
from xds_server.auth import CredentialStore
from xds_server.credentials import Credential, Role
from xds_server.snapshot import Snapshot


def packed(msg: Message) -> any_pb2.Any:
    body = any_pb2.Any()
    body.Pack(msg)
    return body


def eds_cluster(name: str, service_name: str = "") -> cluster_pb2.Cluster:
    c = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.EDS)
    c.eds_cluster_config.eds_config.ads.SetInParent()
    if service_name:
        c.eds_cluster_config.service_name = service_name
    return c


def load_assignment(name: str, port: int = 8080) -> endpoint_pb2.ClusterLoadAssignment:
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=name)
    lb = cla.endpoints.add().lb_endpoints.add()
    lb.endpoint.address.socket_address.address = "127.0.0.1"
    lb.endpoint.address.socket_address.port_value = port
    return cla


def rds_listener(name: str, route_config_name: str) -> listener_pb2.Listener:
    hcm = hcm_pb2.HttpConnectionManager(stat_prefix=name)
    hcm.rds.route_config_name = route_config_name
    hcm.rds.config_source.ads.SetInParent()
    hcm.rds.config_source.resource_api_version = config_source_pb2.V3
    listener = listener_pb2.Listener(name=name)
    listener.address.socket_address.address = "127.0.0.1"
    listener.address.socket_address.port_value = 10000
    flt = listener.filter_chains.add().filters.add(
        name="envoy.filters.network.http_connection_manager"
    )
    flt.typed_config.Pack(hcm)
    return listener


def route_config(name: str, targets: Sequence[str]) -> route_pb2.RouteConfiguration:
    rc = route_pb2.RouteConfiguration(name=name)
    vh = rc.virtual_hosts.add(name="api", domains=["*"])
    for i, target in enumerate(targets):
        route = vh.routes.add(name=f"r{i}")
        route.match.prefix = f"/{target}"
        route.route.cluster = target
    return rc


def make_snapshot(
    version: str = "v1",
    *,
    clusters: Sequence[str] = ("orders", "users"),
    endpoints: Sequence[str] | None = None,
    listener_routes: str = "main",
    routes: Sequence[str] = ("main",),
    route_targets: Sequence[str] | None = None,
    type_versions: dict[str, str] | None = None,
    credential_shards: Sequence[str] = ("credentials/0",),
) -> Snapshot:
    """Clusters (EDS) + their endpoints, a listener using RDS `listener_routes`, routes."""
    endpoints = clusters if endpoints is None else endpoints
    route_targets = clusters if route_targets is None else route_targets
    bodies: dict[str, list[tuple[str, Message]]] = {
        type_urls.CLUSTER: [(c, eds_cluster(c)) for c in clusters],
        type_urls.ENDPOINT: [(e, load_assignment(e)) for e in endpoints],
        type_urls.LISTENER: [("http", rds_listener("http", listener_routes))],
        type_urls.ROUTE: [(r, route_config(r, route_targets)) for r in routes],
        type_urls.CREDENTIAL_SHARD: [
            (s, resources_pb2.CredentialShard(name=s)) for s in credential_shards
        ],
    }
    msg = snapshot_pb2.Snapshot(version=version, compiled_at=1700000000)
    for url, items in bodies.items():
        rs = msg.sets.add(type_url=url, version=(type_versions or {}).get(url, version))
        for name, body in items:
            rs.resources.add(name=name, body=packed(body))
    return Snapshot.from_proto(msg)


def request(
    type_url: str,
    *,
    version: str = "",
    nonce: str = "",
    names: Sequence[str] = (),
    error: str | None = None,
    node_id: str = "envoy-1",
    node_cluster: str = "tollgate-edge",
) -> discovery_pb2.DiscoveryRequest:
    req = discovery_pb2.DiscoveryRequest(
        type_url=type_url, version_info=version, response_nonce=nonce, resource_names=names
    )
    req.node.id = node_id
    req.node.cluster = node_cluster
    if error is not None:
        req.error_detail.code = 3
        req.error_detail.message = error
    return req


def names_of(response: discovery_pb2.DiscoveryResponse) -> list[str]:
    """The resource names in a response (every test type carries a `name` field)."""
    out = []
    for body in response.resources:
        if body.type_url == type_urls.ENDPOINT:
            cla = endpoint_pb2.ClusterLoadAssignment()
            body.Unpack(cla)
            out.append(cla.cluster_name)
        else:
            msg = {
                type_urls.CLUSTER: cluster_pb2.Cluster,
                type_urls.LISTENER: listener_pb2.Listener,
                type_urls.ROUTE: route_pb2.RouteConfiguration,
                type_urls.CREDENTIAL_SHARD: resources_pb2.CredentialShard,
            }[body.type_url]()
            body.Unpack(msg)
            out.append(msg.name)
    return out


# Test credentials: an Envoy node "envoy-1" and a sidecar credential "sidecar-1".
ENVOY_TOKEN = "tgx_envoy-one-test-token-0123456789abcdefghijklmnop"
SIDECAR_TOKEN = "tgx_sidecar-one-test-token-0123456789abcdefghijklm"


def credential_store(path: Path, *extra: tuple[str, Role, str]) -> CredentialStore:
    """A loaded store over a file holding envoy-1 and sidecar-1 (and `extra` name/role/token)."""
    entries: tuple[Credential, ...] = ()
    for name, role, token in (
        ("envoy-1", "envoy", ENVOY_TOKEN),
        ("sidecar-1", "sidecar", SIDECAR_TOKEN),
        *extra,
    ):
        entries = credentials.added(entries, name, role, token)
    credentials.save(path, entries)
    store = CredentialStore(path)
    store.load()
    return store


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
