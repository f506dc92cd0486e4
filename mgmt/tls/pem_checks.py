"""An uploaded server certificate and key, checked before Envoy can be handed them.

Envoy would refuse a bad one only when the listener is pushed, and then for every gateway;
here the API owner is told at upload, on the field at fault, in words. No message ever
carries key material.

Pure: text in, a `CheckedCertificate` (normalized PEM, names, dates) or a
`CertificateProblem` out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import NameOID

MAX_CHAIN_CHARS = 64 * 1024
MAX_KEY_CHARS = 16 * 1024
MAX_CERTIFICATES = 10
MIN_RSA_BITS = 2048
# The curves BoringSSL (Envoy) serves certificates on.
SERVABLE_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}

_CERT_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)
_HOSTNAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}$")

CHAIN = "certificate_chain"
KEY = "private_key"


class CertificateProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CheckedCertificate:
    hostnames: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    subject: str
    issuer: str
    key_type: str
    chain_pem: str
    key_pem: bytes


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _certificates(chain_pem: str) -> list[x509.Certificate]:
    if not chain_pem.strip():
        raise CertificateProblem(CHAIN, "give the certificate chain (PEM)")
    if len(chain_pem) > MAX_CHAIN_CHARS:
        raise CertificateProblem(CHAIN, f"the chain is over {MAX_CHAIN_CHARS // 1024} KiB")
    if "PRIVATE KEY" in chain_pem:
        raise CertificateProblem(
            CHAIN, "this field holds a private key: put the certificates here, the key below"
        )
    blocks = _CERT_BLOCK.findall(chain_pem)
    if not blocks:
        raise CertificateProblem(CHAIN, "not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    if len(blocks) > MAX_CERTIFICATES:
        raise CertificateProblem(CHAIN, f"more than {MAX_CERTIFICATES} certificates in the chain")
    certificates = []
    for position, block in enumerate(blocks, start=1):
        try:
            certificates.append(x509.load_pem_x509_certificate(block.encode()))
        except ValueError as exc:
            raise CertificateProblem(
                CHAIN, f"certificate {position} of the chain does not parse ({exc})"
            ) from None
    return certificates


def _private_key(key_pem: str, password: bytes | None) -> PrivateKeyTypes:
    if not key_pem.strip():
        raise CertificateProblem(KEY, "give the certificate's private key (PEM)")
    if len(key_pem) > MAX_KEY_CHARS:
        raise CertificateProblem(KEY, f"the private key is over {MAX_KEY_CHARS // 1024} KiB")
    try:
        return serialization.load_pem_private_key(key_pem.encode(), password=password)
    except TypeError:
        # Encrypted without a password given, or a password for a key that has none.
        if password is None:
            raise CertificateProblem(
                KEY, "the private key is encrypted: give its password"
            ) from None
        raise CertificateProblem(
            KEY, "the private key is not encrypted: leave the password empty"
        ) from None
    except ValueError as exc:
        reason = "wrong password" if password is not None and "decrypt" in str(exc).lower() else ""
        raise CertificateProblem(
            KEY, f"the private key does not parse ({reason or 'not a PEM private key'})"
        ) from None
    except Exception:
        raise CertificateProblem(KEY, "the private key does not parse (unsupported)") from None


def _key_type(key: object) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise CertificateProblem(
                KEY, f"an RSA key of {key.key_size} bits is too weak (at least {MIN_RSA_BITS})"
            )
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curve = SERVABLE_CURVES.get(key.curve.name)
        if curve is None:
            raise CertificateProblem(
                KEY, f"EC curve {key.curve.name} is not served by Envoy (P-256 or P-384)"
            )
        return f"EC {curve}"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519"
    if isinstance(key, dsa.DSAPrivateKey):
        raise CertificateProblem(KEY, "DSA keys are not served (use RSA or ECDSA)")
    raise CertificateProblem(KEY, "this kind of key is not served (use RSA or ECDSA)")


def _public_bytes(public_key: object) -> bytes:
    return public_key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hostnames(leaf: x509.Certificate) -> tuple[str, ...]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    if not names:
        common = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        value = str(common[0].value).lower() if common else ""
        if value and _HOSTNAME.match(value):
            names = [value]
    if not names:
        raise CertificateProblem(CHAIN, "the certificate has no DNS name (subjectAltName)")
    return tuple(dict.fromkeys(names))


def check_server_certificate(
    chain_pem: str, key_pem: str, *, now: datetime, password: bytes | None = None
) -> CheckedCertificate:
    certificates = _certificates(chain_pem)
    key = _private_key(key_pem, password)
    key_type = _key_type(key)
    key_public = _public_bytes(key.public_key())
    leaf = certificates[0]
    if _public_bytes(leaf.public_key()) != key_public:
        if any(_public_bytes(c.public_key()) == key_public for c in certificates[1:]):
            raise CertificateProblem(
                CHAIN, "the first certificate must be the server's own (leaf) certificate"
            )
        raise CertificateProblem(KEY, "the private key does not match the certificate")
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    now = now.astimezone(UTC)
    if not_after <= now:
        raise CertificateProblem(CHAIN, f"the certificate expired on {_when(not_after)}")
    if not_before > now:
        raise CertificateProblem(CHAIN, f"the certificate is not valid before {_when(not_before)}")
    hostnames = _hostnames(leaf)
    chain = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)
    return CheckedCertificate(
        hostnames=hostnames,
        not_before=not_before,
        not_after=not_after,
        fingerprint_sha256=hashlib.sha256(
            leaf.public_bytes(serialization.Encoding.DER)
        ).hexdigest(),
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        key_type=key_type,
        chain_pem=chain,
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def expires_within(not_after: datetime, now: datetime, days: int) -> bool:
    return (not_after - now).total_seconds() <= days * 86_400


def check_ca_bundle(bundle_pem: str, *, now: datetime, field: str = "ca_bundle_pem") -> str:
    """CA certificates an upstream's certificate is verified against, normalized PEM."""
    try:
        certificates = _certificates(bundle_pem)
    except CertificateProblem as problem:
        raise CertificateProblem(field, str(problem)) from None
    now = now.astimezone(UTC)
    if all(c.not_valid_after_utc <= now for c in certificates):
        raise CertificateProblem(field, "every certificate of the bundle has expired")
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)
