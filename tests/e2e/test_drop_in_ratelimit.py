"""ratelimit_svc as a drop-in for envoyproxy/ratelimit: a real Envoy that Tollgate does not
configure, its own rate-limit filter pointing at ratelimit_svc, limits from a YAML file."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from mgmt.embedded.bootstrap import envoy_binary
from mgmt.embedded.processes import ProcessGroup, free_port, wait_for_port
from mgmt.embedded.stack import LOOPBACK, StackPorts, start_ratelimit, start_redis
from tests.e2e.conftest import wait_until
from tests.e2e.http import request

pytestmark = pytest.mark.e2e

LIMITS = """\
domain: edge
descriptors:
  - key: generic_key
    value: catalogue
    rate_limit:
      unit: hour
      requests_per_unit: 3
  - key: generic_key
    value: warmup
    rate_limit:
      unlimited: true
"""

ENVOY = """\
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
    - name: edge
      address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: edge
                route_config:
                  virtual_hosts:
                    - name: edge
                      domains: ["*"]
                      routes:
                        - match: {{prefix: /catalogue}}
                          route:
                            cluster: origin
                            rate_limits:
                              - actions:
                                  - generic_key: {{descriptor_value: catalogue}}
                        # Checked, never limited: tells when ratelimit_svc answers.
                        - match: {{prefix: /warmup}}
                          route:
                            cluster: origin
                            rate_limits:
                              - actions:
                                  - generic_key: {{descriptor_value: warmup}}
                http_filters:
                  - name: envoy.filters.http.ratelimit
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
                      domain: edge
                      failure_mode_deny: true
                      enable_x_ratelimit_headers: DRAFT_VERSION_03
                      rate_limit_service:
                        transport_api_version: V3
                        grpc_service: {{envoy_grpc: {{cluster_name: ratelimit}}}}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
    # The origin the edge forwards to (the rate-limit filter skips direct responses).
    - name: origin
      address: {{socket_address: {{address: 127.0.0.1, port_value: {origin}}}}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: origin
                route_config:
                  virtual_hosts:
                    - name: origin
                      domains: ["*"]
                      routes:
                        - match: {{prefix: /}}
                          direct_response: {{status: 200, body: {{inline_string: ok}}}}
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: origin
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: origin
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address: {{socket_address: {{address: 127.0.0.1, port_value: {origin}}}}}
    - name: ratelimit
      type: STATIC
      connect_timeout: 1s
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: {{http2_protocol_options: {{}}}}
      load_assignment:
        cluster_name: ratelimit
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address: {{socket_address: {{address: 127.0.0.1, port_value: {rls}}}}}
"""


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[int]:
    group = ProcessGroup(log_dir=tmp_path / "logs")
    try:
        redis_port = free_port()
        start_redis(group, redis_port, tmp_path / "redis")
        config = tmp_path / "ratelimit.yaml"
        config.write_text(LIMITS)
        ports = StackPorts.free(ratelimit=free_port())
        start_ratelimit(
            group,
            ports,
            redis_url=f"redis://{LOOPBACK}:{redis_port}/0",
            xds=None,
            extra_args=("--xds-target", "", "--config", str(config)),
        )
        port, admin = free_port(), free_port()
        bootstrap = tmp_path / "envoy.yaml"
        bootstrap.write_text(
            ENVOY.format(admin=admin, port=port, origin=free_port(), rls=ports.ratelimit)
        )
        envoy = group.start(
            "envoy-edge",
            [envoy_binary(), "-c", str(bootstrap), "--concurrency", "1", "--base-id", str(admin)],
        )
        wait_for_port(LOOPBACK, admin, process=envoy)
        wait_until(
            lambda: request(port, "/warmup").status == 200,
            timeout=10,
            what="Envoy serves, checked by ratelimit_svc",
        )
        yield port
    finally:
        group.stop_all()


def test_an_envoy_of_its_own_is_limited_by_ratelimit_svc_from_a_yaml_file(edge: int) -> None:
    replies = [request(edge, "/catalogue") for _ in range(5)]
    assert [r.status for r in replies] == [200, 200, 200, 429, 429]
    # Envoy's own draft-03 headers, from the statuses ratelimit_svc sends.
    assert replies[0].headers["x-ratelimit-limit"].startswith("3")
    assert replies[0].headers["x-ratelimit-remaining"] == "2"
    refused = replies[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "https://tollgate.dev/problems/rate-limited"
    assert int(refused.headers["retry-after"]) > 0
