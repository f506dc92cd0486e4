"""The xDS type URLs Tollgate serves, and the order in which a new snapshot is pushed.

Clusters and endpoints go before listeners and routes so that Envoy never holds a
route to a cluster it has not been told about (make-before-break).
"""

from typing import Final

_ENVOY: Final = "type.googleapis.com/envoy.config."
CLUSTER: Final = _ENVOY + "cluster.v3.Cluster"
ENDPOINT: Final = _ENVOY + "endpoint.v3.ClusterLoadAssignment"
LISTENER: Final = _ENVOY + "listener.v3.Listener"
ROUTE: Final = _ENVOY + "route.v3.RouteConfiguration"
SECRET: Final = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"  # noqa: S105

_TOLLGATE: Final = "type.googleapis.com/tollgate.v1."
CREDENTIAL_SHARD: Final = _TOLLGATE + "CredentialShard"
APPLICATION_SHARD: Final = _TOLLGATE + "ApplicationShard"
PLAN: Final = _TOLLGATE + "Plan"
API_POLICY: Final = _TOLLGATE + "ApiPolicy"
RATE_LIMIT_SHARD: Final = _TOLLGATE + "RateLimitShard"

PUSH_ORDER: Final = (
    # Certificates first: a listener whose certificate Envoy has not fetched stays closed.
    SECRET,
    CLUSTER,
    ENDPOINT,
    LISTENER,
    ROUTE,
    # Limits go before the applications that use them, so ratelimit_svc knows a
    # subscription no later than ext_authz admits its first request.
    RATE_LIMIT_SHARD,
    # An application goes before the keys that name it, so a new key is never unknown.
    APPLICATION_SHARD,
    CREDENTIAL_SHARD,
    PLAN,
    API_POLICY,
)

# Types whose requests name the resources they want (the rest are wildcard).
NAMED_TYPES: Final = frozenset({ENDPOINT, ROUTE, SECRET})

# What each role of client may read (xds_server.auth): Envoy never sees key hashes, and a
# sidecar never sees listeners or private keys.
ENVOY_TYPES: Final = frozenset({CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET})
TOLLGATE_TYPES: Final = frozenset(
    {CREDENTIAL_SHARD, APPLICATION_SHARD, PLAN, API_POLICY, RATE_LIMIT_SHARD}
)
