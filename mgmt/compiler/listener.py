"""The gateway's Envoy listener (LDS): HTTP connection manager, the route's identity, one
ext_authz call (key, subscription, lifecycle and every limit), router.

ext_authz speaks Envoy's HTTP mode by default (measured about twice as fast as gRPC in
the sidecar) or gRPC (`GatewaySettings.authz_transport`). In HTTP mode the route's
identity travels in a header: the first header-mutation filter strips any copy the client
sent, the second sets the route's own (per-route config), and ext_authz forwards it.

The first filter also strips the client's copies of the caller headers the gateway sets
(extauthz.caller_ids) and sets the TLS client certificate's fingerprint; between the two,
jwt_authn (mgmt.compiler.token_auth) adds a verified token's claims.
"""

from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.common.mutation_rules.v3 import mutation_rules_pb2
from envoy.config.core.v3 import (
    address_pb2,
    base_pb2,
    config_source_pb2,
    grpc_service_pb2,
    http_uri_pb2,
    protocol_pb2,
    substitution_format_string_pb2,
)
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.extensions.access_loggers.filters.cel.v3 import cel_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.type.matcher.v3 import string_pb2
from envoy.type.v3 import http_status_pb2
from google.protobuf import wrappers_pb2

from extauthz.answers import (
    COUNTERS_DOWN_HTTP_STATUS,
    DRAFT03_HEADERS,
    METADATA_HEADERS,
    RATELIMIT_HEADERS,
    REFUSAL_HEADERS,
)
from extauthz.caller_ids import CALLER_HEADERS, CLIENT_CERT_HEADER
from extauthz.problems import Problem
from extauthz.responses import APPLICATION_ID_HEADER, CONSUMER_ID_HEADER, PLAN_HEADER
from extauthz.route_context import ROUTE_HEADER
from mgmt.compiler.access_log import access_logs
from mgmt.compiler.config_sources import ADS_CONFIG_SOURCE
from mgmt.compiler.durations import ms
from mgmt.compiler.inputs import GatewaySettings
from mgmt.compiler.packing import packed
from mgmt.compiler.problems import (
    ENVOY_PROBLEMS,
    ENVOY_REQUEST_PROBLEMS,
    EXT_AUTHZ_DENIED,
    PROBLEM_CONTENT_TYPE,
)
from mgmt.compiler.token_auth import token_error_filter
from ratelimit_svc.problems import RATE_LIMIT_UNAVAILABLE

LISTENER_NAME = "gateway"
ROUTE_CONFIG_NAME = "gateway_routes"
EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz"
# Two header-mutation filters: the first only strips the client's copy of the route header,
# the second only sets the route's own (per-route), so their order is the chain's order.
STRIP_ROUTE_HEADER_FILTER = "tollgate.route_identity.strip"
ROUTE_HEADER_FILTER = "tollgate.route_identity"
HTTP_TRANSPORT = "http"
GRPC_TRANSPORT = "grpc"
AUTHZ_TRANSPORTS = frozenset({HTTP_TRANSPORT, GRPC_TRANSPORT})

# Only the headers that can carry a credential travel to ext_authz: less to serialize per call.
_CREDENTIAL_HEADERS = ("x-api-key", "authorization", *CALLER_HEADERS)
# Identity the sidecar established, sent upstream in place of anything the client sent.
_UPSTREAM_HEADERS = (CONSUMER_ID_HEADER, APPLICATION_ID_HEADER, PLAN_HEADER)


def _exact(names: tuple[str, ...]) -> string_pb2.ListStringMatcher:
    return string_pb2.ListStringMatcher(
        patterns=[string_pb2.StringMatcher(exact=name) for name in names]
    )


def ext_authz_filter(gateway: GatewaySettings) -> hcm_pb2.HttpFilter:
    config = ext_authz_pb2.ExtAuthz(
        transport_api_version=config_source_pb2.ApiVersion.V3,
        failure_mode_allow=False,
        status_on_error=http_status_pb2.HttpStatus(code=http_status_pb2.ServiceUnavailable),
    )
    if gateway.authz_transport == GRPC_TRANSPORT:
        config.grpc_service.CopyFrom(
            grpc_service_pb2.GrpcService(
                envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(
                    cluster_name=gateway.extauthz_cluster
                ),
                timeout=ms(gateway.extauthz_timeout_ms),
            )
        )
        config.allowed_headers.CopyFrom(_exact(_CREDENTIAL_HEADERS))
    else:
        client_headers = RATELIMIT_HEADERS + (
            DRAFT03_HEADERS if gateway.ratelimit_draft03_headers else ()
        )
        config.http_service.CopyFrom(
            ext_authz_pb2.HttpService(
                server_uri=http_uri_pb2.HttpUri(
                    uri="http://tollgate-extauthz/check",
                    cluster=gateway.extauthz_http_cluster,
                    timeout=ms(gateway.extauthz_timeout_ms),
                ),
                path_prefix="/check",
                authorization_response=ext_authz_pb2.AuthorizationResponse(
                    allowed_upstream_headers=_exact(_UPSTREAM_HEADERS),
                    allowed_client_headers=_exact(
                        ("content-type", "cache-control", "www-authenticate", *REFUSAL_HEADERS)
                    ),
                    allowed_client_headers_on_success=_exact(client_headers),
                    dynamic_metadata_from_headers=_exact(METADATA_HEADERS),
                ),
            )
        )
        config.allowed_headers.CopyFrom(_exact((*_CREDENTIAL_HEADERS, ROUTE_HEADER)))
    return hcm_pb2.HttpFilter(name=EXT_AUTHZ_FILTER, typed_config=packed(config))


def strip_filter() -> hcm_pb2.HttpFilter:
    """Removes every header only the gateway may set, then sets the client certificate's
    fingerprint (Envoy adds nothing for an empty value: no certificate, no header)."""
    removals = [
        mutation_rules_pb2.HeaderMutation(remove=name) for name in (ROUTE_HEADER, *CALLER_HEADERS)
    ]
    fingerprint = mutation_rules_pb2.HeaderMutation(
        append=base_pb2.HeaderValueOption(
            header=base_pb2.HeaderValue(
                key=CLIENT_CERT_HEADER, value="%DOWNSTREAM_PEER_FINGERPRINT_256%"
            ),
            append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
        )
    )
    strip = header_mutation_pb2.HeaderMutation(
        mutations=header_mutation_pb2.Mutations(request_mutations=[*removals, fingerprint])
    )
    return hcm_pb2.HttpFilter(name=STRIP_ROUTE_HEADER_FILTER, typed_config=packed(strip))


def route_header_filter() -> hcm_pb2.HttpFilter:
    """Sets the route's identity header (per-route config; see ROUTE_HEADER_FILTER)."""
    return hcm_pb2.HttpFilter(
        name=ROUTE_HEADER_FILTER, typed_config=packed(header_mutation_pb2.HeaderMutation())
    )


def http_filters(
    gateway: GatewaySettings, jwt: hcm_pb2.HttpFilter | None
) -> list[hcm_pb2.HttpFilter]:
    """The chain: strip, [jwt_authn, its reason], [route header], ext_authz, router."""
    chain = [strip_filter()]
    if jwt is not None:
        chain.extend((jwt, token_error_filter()))
    # gRPC mode carries the route's identity as context extensions instead.
    if gateway.authz_transport != GRPC_TRANSPORT:
        chain.append(route_header_filter())
    chain.append(ext_authz_filter(gateway))
    chain.append(
        hcm_pb2.HttpFilter(
            name="envoy.filters.http.router", typed_config=packed(router_pb2.Router())
        )
    )
    return chain


def _status_is(status: int) -> accesslog_pb2.AccessLogFilter:
    return accesslog_pb2.AccessLogFilter(
        status_code_filter=accesslog_pb2.StatusCodeFilter(
            comparison=accesslog_pb2.ComparisonFilter(
                op=accesslog_pb2.ComparisonFilter.EQ,
                value=base_pb2.RuntimeUInt32(default_value=status, runtime_key="tollgate.unused"),
            )
        )
    )


def _details(expression: str) -> accesslog_pb2.AccessLogFilter:
    return accesslog_pb2.AccessLogFilter(
        extension_filter=accesslog_pb2.ExtensionFilter(
            name="tollgate.code_details",
            typed_config=packed(cel_pb2.ExpressionFilter(expression=expression)),
        )
    )


def _flags_and_status(
    flags: tuple[str, ...], status: int, details: str
) -> accesslog_pb2.AccessLogFilter:
    filters = [
        accesslog_pb2.AccessLogFilter(
            response_flag_filter=accesslog_pb2.ResponseFlagFilter(flags=list(flags))
        ),
        _status_is(status),
    ]
    if details:
        filters.append(_details(f"response.code_details == '{details}'"))
    return accesslog_pb2.AccessLogFilter(and_filter=accesslog_pb2.AndFilter(filters=filters))


def _envoys_own(status: int) -> accesslog_pb2.AccessLogFilter:
    """Envoy's own reply with this status, never the sidecar's denial with the same one."""
    not_the_sidecars = _details(f"response.code_details != '{EXT_AUTHZ_DENIED}'")
    return accesslog_pb2.AccessLogFilter(
        and_filter=accesslog_pb2.AndFilter(filters=[_status_is(status), not_the_sidecars])
    )


def _mapper(
    filter_: accesslog_pb2.AccessLogFilter, status: int, problem: Problem
) -> hcm_pb2.ResponseMapper:
    return hcm_pb2.ResponseMapper(
        filter=filter_,
        status_code=wrappers_pb2.UInt32Value(value=status),
        body_format_override=substitution_format_string_pb2.SubstitutionFormatString(
            text_format_source=base_pb2.DataSource(inline_string=problem.body.decode()),
            content_type=PROBLEM_CONTENT_TYPE,
        ),
    )


def _local_reply_config(gateway: GatewaySettings) -> hcm_pb2.LocalReplyConfig:
    # Flag and status together, and for UAEX the code details: the sidecar's own denials
    # are UAEX too, and already carry their own problem body and status.
    mappers = [
        _mapper(_flags_and_status(flags, problem.status, details), problem.status, problem)
        for flags, details, problem in ENVOY_PROBLEMS
    ]
    # The HTTP mode's "counters down" (see extauthz.answers), at the configured status.
    mappers.append(
        _mapper(
            _flags_and_status(("UAEX",), COUNTERS_DOWN_HTTP_STATUS, ""),
            gateway.ratelimit_fail_closed_status,
            Problem(
                RATE_LIMIT_UNAVAILABLE.slug,
                gateway.ratelimit_fail_closed_status,
                RATE_LIMIT_UNAVAILABLE.title,
                RATE_LIMIT_UNAVAILABLE.detail,
            ),
        )
    )
    mappers.extend(
        _mapper(_envoys_own(problem.status), problem.status, problem)
        for problem in ENVOY_REQUEST_PROBLEMS
    )
    return hcm_pb2.LocalReplyConfig(mappers=mappers)


def http_connection_manager(
    gateway: GatewaySettings, jwt: hcm_pb2.HttpFilter | None = None
) -> hcm_pb2.HttpConnectionManager:
    """The gateway's HTTP handling, the same behind the plain and the HTTPS listener;
    `jwt` is mgmt.compiler.token_auth.jwt_filter's (None: no issuer configured)."""
    return hcm_pb2.HttpConnectionManager(
        stat_prefix="gateway",
        codec_type=hcm_pb2.HttpConnectionManager.AUTO,
        rds=hcm_pb2.Rds(config_source=ADS_CONFIG_SOURCE, route_config_name=ROUTE_CONFIG_NAME),
        http_filters=http_filters(gateway, jwt),
        use_remote_address=wrappers_pb2.BoolValue(value=True),
        normalize_path=wrappers_pb2.BoolValue(value=True),
        merge_slashes=True,
        path_with_escaped_slashes_action=hcm_pb2.HttpConnectionManager.UNESCAPE_AND_REDIRECT,
        strip_any_host_port=True,
        request_headers_timeout=ms(10_000),
        # Envoy's default, stated: the 431 problem names it.
        max_request_headers_kb=wrappers_pb2.UInt32Value(value=60),
        common_http_protocol_options=protocol_pb2.HttpProtocolOptions(
            headers_with_underscores_action=protocol_pb2.HttpProtocolOptions.DROP_HEADER
        ),
        local_reply_config=_local_reply_config(gateway),
        access_log=access_logs(gateway),
    )


def http_manager_filter(
    gateway: GatewaySettings, jwt: hcm_pb2.HttpFilter | None = None
) -> listener_components_pb2.Filter:
    return listener_components_pb2.Filter(
        name="envoy.filters.network.http_connection_manager",
        typed_config=packed(http_connection_manager(gateway, jwt)),
    )


def listener(
    gateway: GatewaySettings, jwt: hcm_pb2.HttpFilter | None = None
) -> listener_pb2.Listener:
    return listener_pb2.Listener(
        name=LISTENER_NAME,
        address=address_pb2.Address(
            socket_address=address_pb2.SocketAddress(
                address=gateway.listen_address, port_value=gateway.listen_port
            )
        ),
        filter_chains=[
            listener_components_pb2.FilterChain(filters=[http_manager_filter(gateway, jwt)])
        ],
    )
