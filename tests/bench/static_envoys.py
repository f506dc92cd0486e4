"""Static Envoy configs for the benchmark: the shared upstream and the bare-Envoy baseline."""


def _admin(port: int) -> str:
    return f"admin:\n  address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}\n"


def _listener(port: int, route: str) -> str:
    return f"""
    - name: l{port}
      address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: bench
                http_filters:
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
        + f"""
  clusters:
    - name: upstream
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream_port}}}}}}}
"""
    )
