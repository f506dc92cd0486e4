"""The gateway's access log: Envoy streams every HTTP request's entry over gRPC (ALS) to the
collector (accesslog/), which rolls them up for the analytics.

Who called comes from what the gateway established, never from a client's header: the
route's identity (API, version, route ids) from the compiled route's metadata, logged as
custom tags; the application, subscription, plan and key id from ext_authz's dynamic
metadata (extauthz.answers), which ALS logs whole. No request header is logged: the key
travels in one.

The collector authenticates Envoy by the token in the node's metadata (the bootstrap puts
it there), not by a header here: a listener is published in snapshots, which hold no secret.
"""

from typing import Final

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.core.v3 import base_pb2, config_source_pb2, grpc_service_pb2
from envoy.extensions.access_loggers.grpc.v3 import als_pb2
from envoy.type.metadata.v3 import metadata_pb2
from envoy.type.tracing.v3 import custom_tag_pb2
from google.protobuf import struct_pb2, wrappers_pb2

from mgmt.compiler.durations import ms
from mgmt.compiler.inputs import GatewaySettings
from mgmt.compiler.packing import packed

ACCESS_LOGGER: Final = "envoy.access_loggers.http_grpc"
LOG_NAME: Final = "tollgate"
# The route metadata namespace that names a compiled route's API, version and route ids.
ROUTE_METADATA: Final = "tollgate"
# Custom tag -> key in the route's metadata (the collector reads the tags).
ROUTE_TAGS: Final = (
    ("tollgate.api", "api"),
    ("tollgate.version", "version"),
    ("tollgate.route", "route"),
)


def route_metadata(*, api: int, version: int, route: int) -> base_pb2.Metadata:
    """A compiled route's identity, for the access log (route 0: a version's catch-all)."""
    identity = struct_pb2.Struct()
    identity.update({"api": str(api), "version": str(version), "route": str(route)})
    return base_pb2.Metadata(filter_metadata={ROUTE_METADATA: identity})


def _route_tag(tag: str, key: str) -> custom_tag_pb2.CustomTag:
    return custom_tag_pb2.CustomTag(
        tag=tag,
        metadata=custom_tag_pb2.CustomTag.Metadata(
            kind=metadata_pb2.MetadataKind(route=metadata_pb2.MetadataKind.Route()),
            metadata_key=metadata_pb2.MetadataKey(
                key=ROUTE_METADATA, path=[metadata_pb2.MetadataKey.PathSegment(key=key)]
            ),
        ),
    )


def access_logs(gateway: GatewaySettings) -> list[accesslog_pb2.AccessLog]:
    """The listener's access loggers: the collector's stream, or none when it is off."""
    if not gateway.access_log_cluster:
        return []
    config = als_pb2.HttpGrpcAccessLogConfig(
        common_config=als_pb2.CommonGrpcAccessLogConfig(
            log_name=LOG_NAME,
            grpc_service=grpc_service_pb2.GrpcService(
                envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(
                    cluster_name=gateway.access_log_cluster
                )
            ),
            transport_api_version=config_source_pb2.ApiVersion.V3,
            buffer_flush_interval=ms(gateway.access_log_flush_ms),
            buffer_size_bytes=wrappers_pb2.UInt32Value(value=gateway.access_log_buffer_bytes),
            custom_tags=[_route_tag(tag, key) for tag, key in ROUTE_TAGS],
        )
    )
    return [accesslog_pb2.AccessLog(name=ACCESS_LOGGER, typed_config=packed(config))]
