"""Tollgate's access-log collector: Envoy's gRPC access logs (ALS) summed per minute into Redis.

`histogram` and `usage_keys` are pure and shared: the fold job and the dashboards read what
the collector writes through them.
"""
