"""Tollgate's ADS server: serves Envoy and the sidecars the snapshots that mgmt publishes."""
