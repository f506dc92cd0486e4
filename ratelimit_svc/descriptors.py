"""The rate-limit descriptors Envoy sends for Tollgate's routes: one vocabulary for both sides.

mgmt's compiler writes these names into every route's `rate_limits`; the sidecar reads them
back from each `RateLimitRequest`. Renaming one is a breaking change of the running gateway.
"""

from typing import Final

# The `domain` of both Envoy rate-limit filters.
DOMAIN: Final = "tollgate"
# Descriptor keys, in the order the route's actions emit them.
SUBSCRIPTION_KEY: Final = "subscription"
APPLICATION_KEY: Final = "application"
ROUTE_KEY: Final = "route"
# Present only on routes that cost more than one call: how many calls one request counts as.
COST_KEY: Final = "cost"
# The dynamic-metadata namespace ext_authz writes the caller's identity into, and the
# fields of it the subscription and application descriptors are read from.
METADATA_NAMESPACE: Final = "envoy.filters.http.ext_authz"
SUBSCRIPTION_FIELD: Final = "subscription_id"
APPLICATION_FIELD: Final = "application_id"
