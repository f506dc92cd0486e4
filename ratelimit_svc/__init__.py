"""Tollgate's rate-limit sidecar (envoy.service.ratelimit.v3); built by the rate-limit issue."""
