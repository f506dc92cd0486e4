"""Envoy clusters and their endpoints (CDS, EDS) from upstream rows."""

import ipaddress

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, health_check_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2

from mgmt.compiler import upstream_tls
from mgmt.compiler.config_sources import ADS_CONFIG_SOURCE
from mgmt.compiler.durations import ms, u32
from mgmt.compiler.inputs import UpstreamRow


def cluster_name(upstream: UpstreamRow) -> str:
    return f"upstream.{upstream.name}"


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def uses_eds(upstream: UpstreamRow) -> bool:
    """EDS carries IP addresses only; a DNS name makes the cluster resolve it itself."""
    return all(is_ip_address(e.host) for e in upstream.endpoints)


def load_assignment(upstream: UpstreamRow) -> endpoint_pb2.ClusterLoadAssignment:
    lb_endpoints = [
        endpoint_components_pb2.LbEndpoint(
            endpoint=endpoint_components_pb2.Endpoint(
                address=address_pb2.Address(
                    socket_address=address_pb2.SocketAddress(address=e.host, port_value=e.port)
                )
            ),
            load_balancing_weight=u32(e.weight),
        )
        for e in sorted(upstream.endpoints, key=lambda e: (e.host, e.port))
    ]
    return endpoint_pb2.ClusterLoadAssignment(
        cluster_name=cluster_name(upstream),
        endpoints=[endpoint_components_pb2.LocalityLbEndpoints(lb_endpoints=lb_endpoints)],
    )


def cluster(upstream: UpstreamRow) -> cluster_pb2.Cluster:
    c = cluster_pb2.Cluster(
        name=cluster_name(upstream),
        connect_timeout=ms(upstream.connect_timeout_ms),
        lb_policy=cluster_pb2.Cluster.LbPolicy.Value(upstream.lb_policy),
    )
    if uses_eds(upstream):
        c.type = cluster_pb2.Cluster.EDS
        c.eds_cluster_config.eds_config.CopyFrom(ADS_CONFIG_SOURCE)
    else:
        c.type = cluster_pb2.Cluster.STRICT_DNS
        c.load_assignment.CopyFrom(load_assignment(upstream))
    if upstream.health_check_path:
        c.health_checks.append(
            health_check_pb2.HealthCheck(
                timeout=ms(upstream.health_check_timeout_ms),
                interval=ms(upstream.health_check_interval_ms),
                unhealthy_threshold=u32(upstream.unhealthy_threshold),
                healthy_threshold=u32(upstream.healthy_threshold),
                http_health_check=health_check_pb2.HealthCheck.HttpHealthCheck(
                    path=upstream.health_check_path
                ),
            )
        )
    upstream_tls.apply(upstream, c)
    return c
