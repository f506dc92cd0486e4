"""A published configuration as a frozen value, and its consistency check.

Pure: no I/O. mgmt's compiler imports this module to check a snapshot before publishing it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message

from protos.tollgate.v1 import snapshot_pb2
from xds_server import type_urls
from xds_server.errors import InvalidSnapshot

M = TypeVar("M", bound=Message)

_HCM_TYPE_URL = "type.googleapis.com/" + hcm_pb2.HttpConnectionManager.DESCRIPTOR.full_name


@dataclass(frozen=True)
class ResourceSet:
    """All resources of one type, served at one version, in the order mgmt gave them.

    The `Any` bodies are shared with every response built from them: never mutate one.
    """

    version: str
    resources: Mapping[str, any_pb2.Any]


@dataclass(frozen=True)
class Snapshot:
    """One published configuration: per type URL, a version and the named resources."""

    version: str
    sets: Mapping[str, ResourceSet]
    compiled_at: int = 0

    def __post_init__(self) -> None:
        # Freeze what the caller handed in, so no one can change a served snapshot later.
        frozen = {
            url: ResourceSet(s.version, MappingProxyType(dict(s.resources)))
            for url, s in self.sets.items()
        }
        object.__setattr__(self, "sets", MappingProxyType(frozen))

    @classmethod
    def from_proto(cls, msg: snapshot_pb2.Snapshot) -> Snapshot:
        """Read a `tollgate.v1.Snapshot`; a type or a name given twice is an `InvalidSnapshot`."""
        sets: dict[str, ResourceSet] = {}
        for rs in msg.sets:
            if not rs.type_url:
                raise InvalidSnapshot(f"snapshot {msg.version!r} has a resource set with no type")
            if rs.type_url in sets:
                raise InvalidSnapshot(f"snapshot {msg.version!r} lists type {rs.type_url} twice")
            resources: dict[str, any_pb2.Any] = {}
            for r in rs.resources:
                if not r.name:
                    raise InvalidSnapshot(f"a {_short(rs.type_url)} in {msg.version!r} has no name")
                if r.name in resources:
                    raise InvalidSnapshot(
                        f"{_short(rs.type_url)} {r.name!r} appears twice in {msg.version!r}"
                    )
                resources[r.name] = r.body
            sets[rs.type_url] = ResourceSet(rs.version, resources)
        return cls(version=msg.version, sets=sets, compiled_at=msg.compiled_at)

    @classmethod
    def from_bytes(cls, data: bytes) -> Snapshot:
        """Parse a serialized `tollgate.v1.Snapshot`."""
        msg = snapshot_pb2.Snapshot()
        try:
            msg.ParseFromString(data)
        except DecodeError as exc:
            raise InvalidSnapshot(f"snapshot bytes do not decode: {exc}") from exc
        return cls.from_proto(msg)

    def to_proto(self) -> snapshot_pb2.Snapshot:
        msg = snapshot_pb2.Snapshot(version=self.version, compiled_at=self.compiled_at)
        for url, rs in self.sets.items():
            out = msg.sets.add(type_url=url, version=rs.version)
            for name, body in rs.resources.items():
                out.resources.add(name=name).body.CopyFrom(body)
        return msg

    def to_bytes(self) -> bytes:
        return self.to_proto().SerializeToString(deterministic=True)

    def has_type(self, type_url: str) -> bool:
        return type_url in self.sets

    def type_version(self, type_url: str) -> str:
        """The version a type is served at; "" when the snapshot does not carry the type."""
        rs = self.sets.get(type_url)
        return rs.version if rs is not None else ""

    def resources(self, type_url: str) -> Mapping[str, any_pb2.Any]:
        rs = self.sets.get(type_url)
        return rs.resources if rs is not None else MappingProxyType({})

    def consistency_errors(self) -> list[str]:
        """Every reason Envoy would be left with a dangling reference; [] when consistent.

        Like go-control-plane's `consistent()`: each EDS cluster has its endpoints and each
        ClusterLoadAssignment belongs to a cluster; each RDS name a listener uses exists;
        each route points at a cluster that exists.
        """
        errors = list(self._body_type_errors())
        clusters = _decoded(self, type_urls.CLUSTER, cluster_pb2.Cluster, errors)
        endpoints = _decoded(self, type_urls.ENDPOINT, endpoint_pb2.ClusterLoadAssignment, errors)
        listeners = _decoded(self, type_urls.LISTENER, listener_pb2.Listener, errors)
        routes = _decoded(self, type_urls.ROUTE, route_pb2.RouteConfiguration, errors)

        eds_names: dict[str, str] = {}  # EDS service name -> the cluster that asks for it
        for name, cluster in clusters.items():
            if cluster.WhichOneof("cluster_discovery_type") == "type" and (
                cluster.type == cluster_pb2.Cluster.EDS
            ):
                service = cluster.eds_cluster_config.service_name or name
                eds_names[service] = name
                if service not in endpoints:
                    errors.append(
                        f'cluster "{name}" takes its endpoints from EDS "{service}", '
                        "which has no ClusterLoadAssignment"
                    )
        errors.extend(
            f'ClusterLoadAssignment "{cla}" is not used by any EDS cluster'
            for cla in endpoints
            if cla not in eds_names
        )

        inline_routes: list[tuple[str, route_pb2.RouteConfiguration]] = []
        for name, listener in listeners.items():
            for hcm_where, hcm in _http_connection_managers(name, listener, errors):
                if hcm.HasField("rds"):
                    wanted = hcm.rds.route_config_name
                    if wanted not in routes:
                        errors.append(
                            f'{hcm_where} uses route configuration "{wanted}", which does not exist'
                        )
                elif hcm.HasField("route_config"):
                    inline_routes.append((hcm_where, hcm.route_config))

        for name, rc in routes.items():
            errors.extend(_route_cluster_errors(f'route configuration "{name}"', rc, clusters))
        for where, rc in inline_routes:
            errors.extend(_route_cluster_errors(f"the inline routes of {where}", rc, clusters))
        return errors

    def _body_type_errors(self) -> Iterator[str]:
        for url, rs in self.sets.items():
            for name, body in rs.resources.items():
                if body.type_url != url:
                    yield (
                        f'{_short(url)} "{name}" holds a {_short(body.type_url) or "nothing"} '
                        "instead"
                    )


def _short(type_url: str) -> str:
    return type_url.rsplit(".", 1)[-1]


def _decoded(snap: Snapshot, type_url: str, cls: type[M], errors: list[str]) -> dict[str, M]:
    out: dict[str, M] = {}
    for name, body in snap.resources(type_url).items():
        msg = cls()
        if body.type_url != type_url:
            continue  # already reported by _body_type_errors
        try:
            msg.ParseFromString(body.value)
        except DecodeError:
            errors.append(f'{_short(type_url)} "{name}" does not decode')
            continue
        out[name] = msg
    return out


def _http_connection_managers(
    listener_name: str, listener: listener_pb2.Listener, errors: list[str]
) -> Iterator[tuple[str, hcm_pb2.HttpConnectionManager]]:
    chains = list(listener.filter_chains)
    if listener.HasField("default_filter_chain"):
        chains.append(listener.default_filter_chain)
    for chain in chains:
        for flt in chain.filters:
            if flt.typed_config.type_url != _HCM_TYPE_URL:
                continue
            hcm = hcm_pb2.HttpConnectionManager()
            if not flt.typed_config.Unpack(hcm):
                errors.append(f'listener "{listener_name}" has an HTTP filter that does not decode')
                continue
            yield f'listener "{listener_name}"', hcm


def _route_cluster_errors(
    where: str, rc: route_pb2.RouteConfiguration, clusters: Mapping[str, object]
) -> Iterator[str]:
    for vh in rc.virtual_hosts:
        for i, route in enumerate(vh.routes):
            if not route.HasField("route"):
                continue  # redirects and direct responses need no cluster
            label = route.name or f"#{i}"
            targets: list[str] = []
            if route.route.WhichOneof("cluster_specifier") == "cluster":
                targets.append(route.route.cluster)
            targets.extend(wc.name for wc in route.route.weighted_clusters.clusters)
            for target in targets:
                if target not in clusters:
                    yield (
                        f'route "{label}" in virtual host "{vh.name}" of {where} points at '
                        f'cluster "{target}", which does not exist'
                    )
