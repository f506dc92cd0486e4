"""Keys and certificates made here with `cryptography`, for the identity tests."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: int, size: int | None = None) -> str:
    return b64url(value.to_bytes(size or (value.bit_length() + 7) // 8, "big"))


@cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def ec_key(curve: str = "P-256") -> ec.EllipticCurvePrivateKey:
    chosen = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
    return ec.generate_private_key(chosen[curve])


def rsa_jwk(bits: int = 2048, **more: Any) -> dict[str, Any]:
    numbers = rsa_key(bits).public_key().public_numbers()
    return {"kty": "RSA", "n": _int(numbers.n), "e": _int(numbers.e), **more}


def ec_jwk(curve: str = "P-256", **more: Any) -> dict[str, Any]:
    numbers = ec_key(curve).public_key().public_numbers()
    size = {"P-256": 32, "P-384": 48, "P-521": 66}[curve]
    return {
        "kty": "EC",
        "crv": curve,
        "x": _int(numbers.x, size),
        "y": _int(numbers.y, size),
        **more,
    }


def ed25519_jwk(**more: Any) -> dict[str, Any]:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), **more}


def jwks(*keys: dict[str, Any]) -> str:
    return json.dumps({"keys": list(keys)})


def certificate(
    *,
    now: datetime,
    key: CertificateIssuerPrivateKeyTypes | None = None,
    days: int = 90,
    starts: timedelta = timedelta(hours=-1),
    ca: bool = False,
    common_name: str = "checkout.partner.example",
) -> x509.Certificate:
    """A self-signed certificate valid from now+starts for `days`."""
    key = key or ec_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + starts)
        .not_valid_after(now + starts + timedelta(days=days))
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def der_sha256(cert: x509.Certificate) -> bytes:
    return cert.fingerprint(hashes.SHA256())


def private_key_pem(key: CertificateIssuerPrivateKeyTypes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
