"""What a compiled route hands ext_authz as its identity, whichever transport carries it."""

import json

from envoy.config.route.v3 import route_components_pb2 as rc_pb2
from envoy.extensions.filters.http.ext_authz.v3 import ext_authz_pb2
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2

from extauthz.route_context import ROUTE_HEADER
from mgmt.compiler.listener import EXT_AUTHZ_FILTER, ROUTE_HEADER_FILTER


def route_identity(route: rc_pb2.Route) -> dict[str, str]:
    """The route header's JSON when the route sets one (HTTP mode), else its ext_authz
    context extensions (gRPC mode). A route that hands over neither fails the test."""
    configs = route.typed_per_filter_config
    if ROUTE_HEADER_FILTER in configs:
        header = header_mutation_pb2.HeaderMutationPerRoute()
        assert configs[ROUTE_HEADER_FILTER].Unpack(header)
        (mutation,) = header.mutations.request_mutations
        assert mutation.append.header.key == ROUTE_HEADER
        identity = json.loads(mutation.append.header.value)
        assert isinstance(identity, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in identity.items())
        return identity
    assert EXT_AUTHZ_FILTER in configs, f"{route.name} hands ext_authz no identity"
    per_route = ext_authz_pb2.ExtAuthzPerRoute()
    assert configs[EXT_AUTHZ_FILTER].Unpack(per_route)
    assert not per_route.disabled
    return dict(per_route.check_settings.context_extensions)
