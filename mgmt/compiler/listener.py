"""The gateway's Envoy listener (LDS): HTTP connection manager, ext_authz, rate limits, router."""

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.core.v3 import (
    address_pb2,
    base_pb2,
    config_source_pb2,
    grpc_service_pb2,
    protocol_pb2,
    substitution_format_string_pb2,
)
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.ratelimit.v3 import rls_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.ratelimit.v3 import rate_limit_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.type.matcher.v3 import string_pb2
from envoy.type.v3 import http_status_pb2
from google.protobuf import any_pb2, wrappers_pb2
from google.protobuf.message import Message

from mgmt.compiler.clusters import ADS_CONFIG_SOURCE
from mgmt.compiler.durations import ms
from mgmt.compiler.inputs import GatewaySettings
from mgmt.compiler.problems import PROBLEM_CONTENT_TYPE, envoy_problems
from mgmt.compiler.rate_limits import (
    FAIL_CLOSED_FILTER,
    FAIL_CLOSED_STAGE,
    FAIL_OPEN_FILTER,
    FAIL_OPEN_STAGE,
)
from ratelimit_svc import descriptors

LISTENER_NAME = "gateway"
ROUTE_CONFIG_NAME = "gateway_routes"
EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz"

# Only the headers that can carry a credential travel to ext_authz: less to serialize per call.
_CREDENTIAL_HEADERS = ("x-api-key", "authorization")


def _packed(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message, deterministic=True)
    return packed


def ext_authz_filter(gateway: GatewaySettings) -> hcm_pb2.HttpFilter:
    config = ext_authz_pb2.ExtAuthz(
        grpc_service=grpc_service_pb2.GrpcService(
            envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(
                cluster_name=gateway.extauthz_cluster
            ),
            timeout=ms(gateway.extauthz_timeout_ms),
        ),
        transport_api_version=config_source_pb2.ApiVersion.V3,
        failure_mode_allow=False,
        status_on_error=http_status_pb2.HttpStatus(code=http_status_pb2.ServiceUnavailable),
        allowed_headers=string_pb2.ListStringMatcher(
            patterns=[string_pb2.StringMatcher(exact=h) for h in _CREDENTIAL_HEADERS]
        ),
    )
    return hcm_pb2.HttpFilter(name=EXT_AUTHZ_FILTER, typed_config=_packed(config))


def rate_limit_filter(
    gateway: GatewaySettings, *, name: str, stage: int, fail_closed: bool
) -> hcm_pb2.HttpFilter:
    """One of the two rate-limit filters; a route's entry runs only in the filter of its stage."""
    headers = rate_limit_pb2.RateLimit.XRateLimitHeadersRFCVersion
    config = rate_limit_pb2.RateLimit(
        domain=descriptors.DOMAIN,
        stage=stage,
        timeout=ms(gateway.ratelimit_timeout_ms),
        failure_mode_deny=fail_closed,
        rate_limit_service=rls_pb2.RateLimitServiceConfig(
            grpc_service=grpc_service_pb2.GrpcService(
                envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(
                    cluster_name=gateway.ratelimit_cluster
                )
            ),
            transport_api_version=config_source_pb2.ApiVersion.V3,
        ),
        enable_x_ratelimit_headers=(
            headers.DRAFT_VERSION_03 if gateway.ratelimit_draft03_headers else headers.OFF
        ),
        # Clients read ratelimit_svc's 429 body and RateLimit headers; Envoy's own marker
        # (meant for other Envoys' retry policies) adds nothing for them.
        disable_x_envoy_ratelimited_header=True,
    )
    if fail_closed:
        config.status_on_error.CopyFrom(
            http_status_pb2.HttpStatus(code=gateway.ratelimit_fail_closed_status)
        )
    return hcm_pb2.HttpFilter(name=name, typed_config=_packed(config))


def rate_limit_filters(gateway: GatewaySettings) -> list[hcm_pb2.HttpFilter]:
    return [
        rate_limit_filter(gateway, name=FAIL_OPEN_FILTER, stage=FAIL_OPEN_STAGE, fail_closed=False),
        rate_limit_filter(
            gateway, name=FAIL_CLOSED_FILTER, stage=FAIL_CLOSED_STAGE, fail_closed=True
        ),
    ]


def _local_reply_config(gateway: GatewaySettings) -> hcm_pb2.LocalReplyConfig:
    mappers = []
    for flags, problem in envoy_problems(gateway.ratelimit_fail_closed_status):
        status = problem.status
        mappers.append(
            hcm_pb2.ResponseMapper(
                # Flag and status together: UAEX marks every ext_authz denial too, and
                # those already carry our own problem body and status.
                filter=accesslog_pb2.AccessLogFilter(
                    and_filter=accesslog_pb2.AndFilter(
                        filters=[
                            accesslog_pb2.AccessLogFilter(
                                response_flag_filter=accesslog_pb2.ResponseFlagFilter(
                                    flags=list(flags)
                                )
                            ),
                            accesslog_pb2.AccessLogFilter(
                                status_code_filter=accesslog_pb2.StatusCodeFilter(
                                    comparison=accesslog_pb2.ComparisonFilter(
                                        op=accesslog_pb2.ComparisonFilter.EQ,
                                        value=base_pb2.RuntimeUInt32(
                                            default_value=status, runtime_key="tollgate.unused"
                                        ),
                                    )
                                )
                            ),
                        ]
                    )
                ),
                status_code=wrappers_pb2.UInt32Value(value=status),
                body_format_override=substitution_format_string_pb2.SubstitutionFormatString(
                    text_format_source=base_pb2.DataSource(inline_string=problem.body.decode()),
                    content_type=PROBLEM_CONTENT_TYPE,
                ),
            )
        )
    return hcm_pb2.LocalReplyConfig(mappers=mappers)


def listener(gateway: GatewaySettings) -> listener_pb2.Listener:
    manager = hcm_pb2.HttpConnectionManager(
        stat_prefix="gateway",
        codec_type=hcm_pb2.HttpConnectionManager.AUTO,
        rds=hcm_pb2.Rds(config_source=ADS_CONFIG_SOURCE, route_config_name=ROUTE_CONFIG_NAME),
        http_filters=[
            ext_authz_filter(gateway),
            *rate_limit_filters(gateway),
            hcm_pb2.HttpFilter(
                name="envoy.filters.http.router", typed_config=_packed(router_pb2.Router())
            ),
        ],
        use_remote_address=wrappers_pb2.BoolValue(value=True),
        normalize_path=wrappers_pb2.BoolValue(value=True),
        merge_slashes=True,
        path_with_escaped_slashes_action=hcm_pb2.HttpConnectionManager.UNESCAPE_AND_REDIRECT,
        strip_any_host_port=True,
        request_headers_timeout=ms(10_000),
        common_http_protocol_options=protocol_pb2.HttpProtocolOptions(
            headers_with_underscores_action=protocol_pb2.HttpProtocolOptions.DROP_HEADER
        ),
        local_reply_config=_local_reply_config(gateway),
    )
    return listener_pb2.Listener(
        name=LISTENER_NAME,
        address=address_pb2.Address(
            socket_address=address_pb2.SocketAddress(
                address=gateway.listen_address, port_value=gateway.listen_port
            )
        ),
        filter_chains=[
            listener_components_pb2.FilterChain(
                filters=[
                    listener_components_pb2.Filter(
                        name="envoy.filters.network.http_connection_manager",
                        typed_config=_packed(manager),
                    )
                ]
            )
        ],
    )
