"""Tollgate's ext_authz sidecar: answers Envoy's Authorization/Check from memory."""
