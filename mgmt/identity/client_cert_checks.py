"""A partner's client certificate (for mTLS), checked before it names their application: a
PEM certificate, or the SHA-256 fingerprint of one.

The gateway identifies the caller by the SHA-256 of the certificate's DER, so that is what
is kept; the subject and dates are for people. Messages never echo the input: a refused
form is shown again and its errors may be logged.

Pure: text in, a `CheckedClientCertificate` or a fingerprint out, or a
`ClientCertificateProblem`. No I/O, no Django.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

MAX_PEM_CHARS = 16 * 1024
MIN_RSA_BITS = 2048
MIN_EC_BITS = 256

CERTIFICATE = "certificate_pem"
FINGERPRINT = "fingerprint"

_BEGIN = "-----BEGIN CERTIFICATE-----"
_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)
# What `openssl x509 -noout -fingerprint -sha256` prints before the hex.
_OPENSSL_PREFIX = re.compile(r"^(?:sha-?256\s+fingerprint\s*=\s*)", re.IGNORECASE)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ClientCertificateProblem(ValueError):
    """Why a registration is refused: `field` is the input at fault, str() the message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CheckedClientCertificate:
    fingerprint_sha256: bytes  # SHA-256 of the DER: what the gateway matches
    subject: str  # RFC 4514
    not_before: datetime
    not_after: datetime
    pem: str  # the certificate re-serialised, trailing newline


def colon_hex(fingerprint: bytes) -> str:
    """AB:CD:..., as `openssl x509 -fingerprint -sha256` prints it."""
    return ":".join(f"{b:02X}" for b in fingerprint)


def parse_fingerprint(text: str) -> bytes:
    """64 hex digits, in any case, with or without colons (or openssl's prefix)."""
    cleaned = _OPENSSL_PREFIX.sub("", text.strip()).replace(":", "").lower()
    if not _HEX64.fullmatch(cleaned):
        raise ClientCertificateProblem(
            FINGERPRINT,
            "a SHA-256 fingerprint is 64 hex digits (colons allowed), as "
            "`openssl x509 -noout -fingerprint -sha256` prints it",
        )
    return bytes.fromhex(cleaned)


def _certificate(pem: str) -> x509.Certificate:
    if not pem.strip():
        raise ClientCertificateProblem(CERTIFICATE, "give the certificate (PEM)")
    if "PRIVATE KEY" in pem:
        raise ClientCertificateProblem(
            CERTIFICATE,
            "this is a private key: never send it to anyone, us included. Send the "
            "certificate only (-----BEGIN CERTIFICATE-----); if this key was shared, "
            "make a new one",
        )
    if len(pem) > MAX_PEM_CHARS:
        raise ClientCertificateProblem(
            CERTIFICATE, f"the certificate is over {MAX_PEM_CHARS // 1024} KiB"
        )
    begins = pem.count(_BEGIN)
    if begins == 0:
        raise ClientCertificateProblem(
            CERTIFICATE, "not a PEM certificate (-----BEGIN CERTIFICATE-----)"
        )
    if begins > 1:
        raise ClientCertificateProblem(
            CERTIFICATE,
            "several certificates: give the client's own certificate only, not its chain",
        )
    blocks = _BLOCK.findall(pem)
    if len(blocks) != 1:
        raise ClientCertificateProblem(
            CERTIFICATE,
            "the certificate is cut short: it runs from -----BEGIN CERTIFICATE----- to "
            "-----END CERTIFICATE-----, on lines of their own",
        )
    try:
        return x509.load_pem_x509_certificate(blocks[0].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise ClientCertificateProblem(CERTIFICATE, "the certificate does not parse") from None


def _check_key(certificate: x509.Certificate) -> None:
    try:
        key = certificate.public_key()
    except (ValueError, TypeError):  # an algorithm cryptography does not know
        raise ClientCertificateProblem(
            CERTIFICATE, "the certificate's key type is not supported"
        ) from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ClientCertificateProblem(
                CERTIFICATE, f"RSA key of {key.key_size} bits: at least {MIN_RSA_BITS}"
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.key_size < MIN_EC_BITS:
            raise ClientCertificateProblem(
                CERTIFICATE, f"EC key on {key.curve.name}: P-256 or stronger"
            )
    elif not isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        raise ClientCertificateProblem(
            CERTIFICATE, "the certificate's key must be RSA, EC (P-256 or stronger) or Ed25519"
        )


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    except ValueError:  # a malformed extension
        raise ClientCertificateProblem(
            CERTIFICATE, "the certificate's extensions do not parse"
        ) from None
    return bool(constraints.value.ca)


def check_client_certificate(pem: str, *, now: datetime) -> CheckedClientCertificate:
    """One end-entity certificate, valid at `now` (timezone-aware), with a strong key."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise TypeError("now must be a timezone-aware datetime")
    certificate = _certificate(pem)
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    if not_after < now:
        raise ClientCertificateProblem(
            CERTIFICATE, f"the certificate expired on {not_after:%Y-%m-%d %H:%M} UTC"
        )
    if not_before > now:
        raise ClientCertificateProblem(
            CERTIFICATE,
            f"the certificate is not valid before {not_before:%Y-%m-%d %H:%M} UTC",
        )
    if _is_ca(certificate):
        raise ClientCertificateProblem(
            CERTIFICATE,
            "this is a CA certificate (basic constraints CA:TRUE): register the client's own "
            "certificate",
        )
    _check_key(certificate)
    der = certificate.public_bytes(serialization.Encoding.DER)
    return CheckedClientCertificate(
        fingerprint_sha256=hashlib.sha256(der).digest(),
        subject=certificate.subject.rfc4514_string()[:500],
        not_before=not_before.astimezone(UTC),
        not_after=not_after.astimezone(UTC),
        pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    )
