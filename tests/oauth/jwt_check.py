"""An independent check of Tollgate's tokens for the tests: the JWS split and verified with
`cryptography` alone, from the JWK's coordinates, as a gateway would."""

import base64
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_of(jwk: Mapping[str, str]) -> ec.EllipticCurvePublicKey:
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(unb64(jwk["x"]), "big"),
        int.from_bytes(unb64(jwk["y"]), "big"),
        ec.SECP256R1(),
    )
    return numbers.public_key()


def header_of(token: str) -> dict[str, Any]:
    return dict(json.loads(unb64(token.split(".", maxsplit=1)[0])))


def verified_claims(token: str, jwk: Mapping[str, str]) -> dict[str, Any]:
    """The claims, after the signature verified (raises InvalidSignature otherwise)."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    signature = unb64(signature_b64)
    assert len(signature) == 64, "ES256 signatures are r || s, 64 bytes"
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    public_key_of(jwk).verify(
        der, f"{header_b64}.{payload_b64}".encode(), ec.ECDSA(hashes.SHA256())
    )
    return dict(json.loads(unb64(payload_b64)))
