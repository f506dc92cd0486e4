"""Caller identities besides API keys: token issuers, their clients, client certificates."""
