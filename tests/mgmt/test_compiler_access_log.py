"""The compiled access log: every request's entry streams to the collector, naming the
route by the compiled route's metadata, never by anything the client sends."""

import dataclasses
from typing import Any

import pytest
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.access_loggers.grpc.v3 import als_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)

from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import GatewaySettings
from tests.mgmt.compiler_rows import demo_rows
from tests.mgmt.test_compiler_lifecycle import RETIRED, by_name, compiled_routes, payments
from xds_server import type_urls

pytestmark = pytest.mark.pure


def _manager(gateway: GatewaySettings) -> Any:
    snapshot = compile_snapshot(demo_rows(), gateway).snapshot
    assert snapshot is not None
    listeners = next(s for s in snapshot.sets if s.type_url == type_urls.LISTENER)
    listener = listener_pb2.Listener()
    assert listeners.resources[0].body.Unpack(listener)
    manager = hcm_pb2.HttpConnectionManager()
    assert listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
    return manager


def _identity(route: Any) -> dict[str, str]:
    return dict(route.metadata.filter_metadata["tollgate"])


def test_the_listener_streams_its_access_log_to_the_collector_with_the_routes_identity():
    manager = _manager(GatewaySettings(access_log_flush_ms=500, access_log_buffer_bytes=32_768))
    (logger,) = manager.access_log
    assert logger.name == "envoy.access_loggers.http_grpc"
    config = als_pb2.HttpGrpcAccessLogConfig()
    assert logger.typed_config.Unpack(config)
    common = config.common_config
    assert common.grpc_service.envoy_grpc.cluster_name == "tollgate_accesslog"
    assert common.buffer_flush_interval.ToMilliseconds() == 500
    assert common.buffer_size_bytes.value == 32_768
    tags = {
        t.tag: (t.metadata.metadata_key.key, t.metadata.metadata_key.path[0].key)
        for t in common.custom_tags
    }
    assert tags == {
        "tollgate.api": ("tollgate", "api"),
        "tollgate.version": ("tollgate", "version"),
        "tollgate.route": ("tollgate", "route"),
    }
    assert all(t.metadata.kind.HasField("route") for t in common.custom_tags)
    # No request header is logged: one of them carries the key.
    assert not config.additional_request_headers_to_log
    # No secret in a published listener: the collector authenticates by the node's metadata.
    assert not common.grpc_service.initial_metadata


def test_no_collector_cluster_no_access_log():
    assert not _manager(GatewaySettings(access_log_cluster="")).access_log


def test_every_route_names_its_api_version_and_route_in_metadata():
    routes = by_name(compiled_routes(payments()))
    assert _identity(routes["route.1"]) == {"api": "1", "version": "1", "route": "1"}
    assert _identity(routes["route.3"]) == {"api": "1", "version": "2", "route": "3"}


def test_retired_routes_are_attributed_to_their_version_too():
    routes = by_name(compiled_routes(payments(RETIRED)))
    assert _identity(routes["route.1"]) == {"api": "1", "version": "1", "route": "1"}
    catch_all = [r for name, r in routes.items() if name.startswith("version.1.retired")]
    assert catch_all and all(
        _identity(r) == {"api": "1", "version": "1", "route": "0"} for r in catch_all
    )


def test_the_access_log_settings_change_the_listener_version_only():
    rows = demo_rows()
    before = compile_snapshot(rows, GatewaySettings()).snapshot
    after = compile_snapshot(
        rows, dataclasses.replace(GatewaySettings(), access_log_flush_ms=250)
    ).snapshot
    assert before is not None and after is not None
    changed = {
        s.type_url
        for s in before.sets
        if s.version != next(a for a in after.sets if a.type_url == s.type_url).version
    }
    assert changed == {type_urls.LISTENER}
