"""Callers identified by something other than an API key: a bearer token Envoy's jwt_authn
verified, or the client certificate of the TLS connection. Shared by mgmt's compiler (which
sets the headers and places the look-up ids in credential shards) and the sidecar.

The gateway sets every header here itself, after removing any copy the client sent, so the
sidecar never reads one a client could forge.
"""

from typing import Final

# The verified token's claims, set by jwt_authn's claim_to_headers (absent when no token
# verified). A provider names its client by up to len(TOKEN_CLIENT_HEADERS) claims, tried in
# order (e.g. azp, then client_id): one header each, so the first present wins.
TOKEN_ISSUER_HEADER: Final = "x-tollgate-token-issuer"  # noqa: S105 (a header name, not a secret)
TOKEN_CLIENT_HEADERS: Final = (
    "x-tollgate-token-client-0",
    "x-tollgate-token-client-1",
    "x-tollgate-token-client-2",
)
TOKEN_SCOPE_HEADER: Final = "x-tollgate-token-scope"  # noqa: S105 (a header name, not a secret)
# The verified token's JOSE header `alg` and `kid` (jwt_authn's header_in_metadata): the
# sidecar checks the token Envoy verified, never one it parsed itself from the request.
TOKEN_ALG_HEADER: Final = "x-tollgate-token-alg"  # noqa: S105 (a header name, not a secret)
TOKEN_KID_HEADER: Final = "x-tollgate-token-kid"  # noqa: S105 (a header name, not a secret)
# Why jwt_authn refused the token (its failure status, from dynamic metadata).
TOKEN_ERROR_HEADER: Final = "x-tollgate-token-error"  # noqa: S105 (a header name, not a secret)
# The SHA-256 of the TLS client certificate's DER, lower-case hex (absent without one).
CLIENT_CERT_HEADER: Final = "x-tollgate-client-cert"

CALLER_HEADERS: Final = (
    TOKEN_ISSUER_HEADER,
    *TOKEN_CLIENT_HEADERS,
    TOKEN_SCOPE_HEADER,
    TOKEN_ALG_HEADER,
    TOKEN_KID_HEADER,
    TOKEN_ERROR_HEADER,
    CLIENT_CERT_HEADER,
)

# Look-up ids share the credential shards with API key ids; a NUL cannot be in a key id,
# an issuer or a client id that Envoy forwarded, so the three spaces never meet.
_TOKEN: Final = "\0t"  # noqa: S105 (a prefix)
_CERTIFICATE: Final = "\0c"


def token_client_id(issuer: str, client_id: str) -> str:
    return f"{_TOKEN}{issuer}\0{client_id}"


def certificate_id(fingerprint_hex: str) -> str:
    return _CERTIFICATE + fingerprint_hex
