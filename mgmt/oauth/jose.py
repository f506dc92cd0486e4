"""JWS (RFC 7515) and JWK (RFC 7517) for ES256 only: what Tollgate's authorization server
signs its access tokens with, and what it publishes for gateways to verify them.

Pure: keys in, strings out. Only ES256 (ECDSA P-256 with SHA-256), so there is no
`alg` negotiation to get wrong (RFC 8725 §3.1).
"""

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALGORITHM: Final = "ES256"
# RFC 9068 §2.1: the media type that tells an access token from an ID token or others.
JWT_TYPE: Final = "at+jwt"
_COORDINATE_BYTES: Final = 32  # P-256


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact_json(value: Any) -> str:
    """One canonical text per value: the bytes signed, the JWKS published, the thumbprint."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The key's required members only (RFC 7518 §6.2.1): what the thumbprint hashes."""
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise ValueError(f"ES256 needs a P-256 key, not {public_key.curve.name}")
    numbers = public_key.public_numbers()
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": b64url(numbers.x.to_bytes(_COORDINATE_BYTES, "big")),
        "y": b64url(numbers.y.to_bytes(_COORDINATE_BYTES, "big")),
    }


def thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, without whitespace."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "oct": ("k", "kty")}
    members = required.get(jwk["kty"])
    if members is None:
        raise ValueError(f"no thumbprint members known for kty {jwk['kty']!r}")
    canonical = json.dumps(
        {name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True
    )
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def published_jwk(jwk: Mapping[str, str], kid: str) -> dict[str, str]:
    """The JWKS entry: the key, its id, and what it may be used for."""
    return {**jwk, "kid": kid, "use": "sig", "alg": ALGORITHM}


def jwks_document(entries: Iterable[Mapping[str, str]]) -> str:
    """A JWKS, sorted by kid, as compact JSON: the same keys always read the same."""
    return compact_json({"keys": sorted(entries, key=lambda entry: entry["kid"])})


def raw_signature(der: bytes) -> bytes:
    """RFC 7518 §3.4: a JWS carries r || s, each 32 bytes, not the DER that OpenSSL makes."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(_COORDINATE_BYTES, "big") + s.to_bytes(_COORDINATE_BYTES, "big")


def sign_jwt(
    private_key: ec.EllipticCurvePrivateKey, *, kid: str, claims: Mapping[str, Any]
) -> str:
    """A compact-serialized JWS of `claims`, header {"alg":"ES256","typ":"at+jwt","kid"}."""
    header = {"alg": ALGORITHM, "typ": JWT_TYPE, "kid": kid}
    signing_input = (
        b64url(compact_json(header).encode()) + "." + b64url(compact_json(claims).encode())
    )
    der = private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    return signing_input + "." + b64url(raw_signature(der))
