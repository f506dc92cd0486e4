"""Static Envoy configs for the benchmark: the shared upstream, the bare baseline, the two floors.

The floors are the bare gateway plus an ext_authz filter set up as Tollgate's listener sets it
(credential headers only, fail closed, 250 ms), pointing at a server that allows everything.
"""


def _admin(port: int) -> str:
    return f"admin:\n  address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}\n"


def _listener(port: int, route: str, filters: str = "") -> str:
    return f"""
    - name: l{port}
      address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: bench
                http_filters:{filters}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: {{prefix: "/"}}
                          {route}
"""


def _cluster(name: str, port: int, *, http2: bool = False) -> str:
    protocol = (
        """
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: {http2_protocol_options: {}}"""
        if http2
        else ""
    )
    return f"""
    - name: {name}
      type: STATIC
      connect_timeout: 1s{protocol}
      circuit_breakers:
        thresholds: [{{max_connections: 100000, max_pending_requests: 100000, max_requests: 100000}}]
      load_assignment:
        cluster_name: {name}
        endpoints:
          - lb_endpoints:
              - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}
"""


def _ext_authz(service: str) -> str:
    return f"""
                  - name: envoy.filters.http.ext_authz
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
                      transport_api_version: V3
                      failure_mode_allow: false
                      status_on_error: {{code: ServiceUnavailable}}
                      allowed_headers: {{patterns: [{{exact: x-api-key}}, {{exact: authorization}}]}}
                      {service}"""


def upstream_config(port: int, admin_port: int) -> str:
    """An upstream that answers 200 itself, fast enough never to be the bottleneck."""
    route = 'direct_response: {status: 200, body: {inline_string: "ok"}}'
    return _admin(admin_port) + "static_resources:\n  listeners:" + _listener(port, route)


def bare_gateway_config(port: int, admin_port: int, upstream_port: int) -> str:
    route = "route: {cluster: upstream}"
    return (
        _admin(admin_port)
        + "static_resources:\n  listeners:"
        + _listener(port, route)
        + "  clusters:"
        + _cluster("upstream", upstream_port)
    )


def http_authz_floor_config(port: int, admin_port: int, upstream_port: int, authz_port: int) -> str:
    """The bare gateway plus HTTP ext_authz: each request is first sent, headers only, to authz."""
    service = f'http_service: {{server_uri: {{uri: "http://127.0.0.1:{authz_port}", cluster: authz, timeout: 0.25s}}}}'
    return (
        _admin(admin_port)
        + "static_resources:\n  listeners:"
        + _listener(port, "route: {cluster: upstream}", _ext_authz(service))
        + "  clusters:"
        + _cluster("upstream", upstream_port)
        + _cluster("authz", authz_port)
    )


def grpc_authz_floor_config(port: int, admin_port: int, upstream_port: int, authz_port: int) -> str:
    """The bare gateway plus gRPC ext_authz: one Check over HTTP/2 per request."""
    service = "grpc_service: {envoy_grpc: {cluster_name: authz}, timeout: 0.25s}"
    return (
        _admin(admin_port)
        + "static_resources:\n  listeners:"
        + _listener(port, "route: {cluster: upstream}", _ext_authz(service))
        + "  clusters:"
        + _cluster("upstream", upstream_port)
        + _cluster("authz", authz_port, http2=True)
    )


def tls_client_config(
    port: int,
    admin_port: int,
    gateway_https_port: int,
    *,
    ca_file: str,
    sni: str,
    client_cert: tuple[str, str] | None,
) -> str:
    """The load tool's TLS side (wrk has no client certificates): plain HTTP in, HTTPS to the
    gateway out, over kept-alive connections, with a client certificate when given."""
    certificate = (
        f"""
            tls_certificates:
              - certificate_chain: {{filename: {client_cert[0]}}}
                private_key: {{filename: {client_cert[1]}}}"""
        if client_cert
        else ""
    )
    tls = f"""
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
          sni: {sni}
          common_tls_context:
            validation_context: {{trusted_ca: {{filename: {ca_file}}}}}{certificate}
"""
    return (
        _admin(admin_port)
        + "static_resources:\n  listeners:"
        + _listener(port, "route: {cluster: gateway}")
        + "  clusters:"
        + _cluster("gateway", gateway_https_port).rstrip("\n")
        + tls
    )
