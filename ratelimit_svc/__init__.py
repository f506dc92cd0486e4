"""Tollgate's rate-limit sidecar (envoy.service.ratelimit.v3): built with the rate-limiting issue."""
