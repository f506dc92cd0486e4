"""An uploaded certificate chain and private key, checked before Envoy is handed them: the
gateway's server certificates, and the client certificates it presents to upstreams.

Envoy finds a bad certificate only when the listener that carries it is pushed, and then on
every gateway at once; checked here, the API owner is told at upload, on the form field at
fault, in words. No message ever carries key material: a refused form is shown again and its
errors may be logged, so every message is fixed wording plus names and dates.

Pure: text in, a `CheckedCertificate` (normalized PEM, names, dates) or a `CertificateProblem`
out. No I/O, no Django.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import NameOID

MAX_CHAIN_CHARS = 64 * 1024
MAX_KEY_CHARS = 16 * 1024
MAX_CERTIFICATES = 10
MIN_RSA_BITS = 2048
# The curves both BoringSSL (Envoy) and the browsers serve on; P-521 is left out, as Chrome
# and BoringSSL's default client settings leave it out.
SERVABLE_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}

_BEGIN_CERTIFICATE = "-----BEGIN CERTIFICATE-----"
_CERT_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}$")
_MAX_HOSTNAME = 253

# cryptography's wording of why a key does not load, mapped to ours: its own text is never
# passed on, so that nothing of the input can reach a message.
_KEY_PARSE_REASONS = (
    ("incorrect password", "wrong password"),
    ("unable to load pem", "not PEM text"),
    ("no begin/end delimiters for a private key", "no -----BEGIN … PRIVATE KEY----- block"),
)

CHAIN = "certificate_chain"
KEY = "private_key"


class CertificateProblem(ValueError):
    """Why an upload is refused: `field` is the form field at fault ("certificate_chain" or
    "private_key"), str() the message for its owner. Never carries key material."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CheckedCertificate:
    """A chain and key that Envoy can serve, with what the admin shows and routes on.

    `chain_pem` is the certificates re-serialized (leaf first, trailing newline); `key_pem`
    the key as unencrypted PKCS#8 PEM, to be sealed before it is stored.
    """

    hostnames: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    fingerprint_sha256: str
    subject: str
    issuer: str
    key_type: str
    chain_pem: str
    key_pem: bytes


def _utc(now: datetime) -> datetime:
    # A naive time would be read as the machine's local time: a certificate could be taken
    # as valid hours after it expired.
    if now.tzinfo is None or now.utcoffset() is None:
        raise TypeError("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


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
    begins = chain_pem.count(_BEGIN_CERTIFICATE)
    if not begins:
        raise CertificateProblem(CHAIN, "not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    if begins > MAX_CERTIFICATES:
        raise CertificateProblem(CHAIN, f"more than {MAX_CERTIFICATES} certificates in the chain")
    blocks = _CERT_BLOCK.findall(chain_pem)
    # A block cut short (no END line, or its lines joined) would otherwise be dropped
    # silently, and the chain served without that intermediate.
    if len(blocks) != begins:
        raise CertificateProblem(
            CHAIN,
            "a certificate of the chain is cut short: each runs from -----BEGIN CERTIFICATE----- "
            "to -----END CERTIFICATE-----, on lines of their own",
        )
    certificates = []
    for position, block in enumerate(blocks, start=1):
        try:
            certificates.append(x509.load_pem_x509_certificate(block.encode()))
        except ValueError:
            raise CertificateProblem(
                CHAIN,
                f"certificate {position} of the chain does not parse "
                "(damaged, or not an X.509 certificate)",
            ) from None
    return certificates


def _private_key(key_pem: str, password: bytes | None) -> PrivateKeyTypes:
    if not key_pem.strip():
        raise CertificateProblem(KEY, "give the certificate's private key (PEM)")
    if len(key_pem) > MAX_KEY_CHARS:
        raise CertificateProblem(KEY, f"the private key is over {MAX_KEY_CHARS // 1024} KiB")
    if "PRIVATE KEY" not in key_pem and _BEGIN_CERTIFICATE in key_pem:
        raise CertificateProblem(
            KEY, "this field holds a certificate: put the private key here, the certificates above"
        )
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
    except UnsupportedAlgorithm:
        raise CertificateProblem(
            KEY, "the private key does not parse (a kind of key not supported)"
        ) from None
    except ValueError as exc:
        detail = str(exc).lower()
        reason = next(
            (ours for theirs, ours in _KEY_PARSE_REASONS if theirs in detail),
            "damaged, or a kind of key not supported",
        )
        raise CertificateProblem(KEY, f"the private key does not parse ({reason})") from None


def _key_type(key: PrivateKeyTypes) -> str:
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
                KEY, f"EC curve {key.curve.name} is not served by Envoy (use P-256 or P-384)"
            )
        return f"EC {curve}"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "Ed25519"
    if isinstance(key, dsa.DSAPrivateKey):
        raise CertificateProblem(KEY, "DSA keys are not served (use RSA or ECDSA)")
    raise CertificateProblem(KEY, "this kind of key is not served (use RSA or ECDSA)")


def _spki(public_key: CertificatePublicKeyTypes | PublicKeyTypes) -> bytes:
    # Keys are compared by their SubjectPublicKeyInfo: one encoding for every key type.
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _certificate_spki(certificate: x509.Certificate) -> bytes | None:
    try:
        return _spki(certificate.public_key())
    except (ValueError, UnsupportedAlgorithm):
        return None


def _looks_like_hostname(value: str) -> bool:
    if len(value) > _MAX_HOSTNAME or not _HOSTNAME.match(value):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return True
    return False  # an IP address written in the CN is not a name to route on


def is_hostname(value: str) -> bool:
    """A DNS name a certificate may be chosen by (SNI): a wildcard allowed, an IP not."""
    return _looks_like_hostname(value.lower())


def _hostnames(leaf: x509.Certificate) -> tuple[str, ...]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        # IP addresses are left out: Envoy picks a certificate by SNI, which is a DNS name.
        names = [name.lower() for name in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    except (x509.DuplicateExtension, ValueError):
        raise CertificateProblem(
            CHAIN, "the certificate's extensions do not parse (one is damaged or repeated)"
        ) from None
    if not names:
        # Only when there is no DNS name in the subjectAltName: clients then look at the CN.
        common = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        value = str(common[0].value).strip().lower() if common else ""
        if _looks_like_hostname(value):
            names = [value]
    if not names:
        raise CertificateProblem(CHAIN, "the certificate has no DNS name (subjectAltName)")
    return tuple(dict.fromkeys(names))


def check_server_certificate(
    chain_pem: str, key_pem: str, *, now: datetime, password: bytes | None = None
) -> CheckedCertificate:
    """The chain (leaf first, then intermediates) and its key, checked for Envoy at `now`.

    Raises `CertificateProblem` on the field at fault; `TypeError` if `now` is naive.
    A leaf whose basicConstraints says CA=true is accepted: Envoy serves it, and some
    internal CAs issue them.
    """
    return _check_pair(chain_pem, key_pem, now=now, password=password, server=True)


def check_client_certificate(
    chain_pem: str, key_pem: str, *, now: datetime, password: bytes | None = None
) -> CheckedCertificate:
    """A certificate and key the gateway presents to an upstream (upstream mTLS): checked
    as a server's, but it needs no DNS name (`hostnames` is empty): the upstream checks
    its chain and maybe its subject, never a name the gateway is reached by."""
    return _check_pair(chain_pem, key_pem, now=now, password=password, server=False)


def _check_pair(
    chain_pem: str, key_pem: str, *, now: datetime, password: bytes | None, server: bool
) -> CheckedCertificate:
    now = _utc(now)
    certificates = _certificates(chain_pem)
    key = _private_key(key_pem, password)
    key_type = _key_type(key)
    key_spki = _spki(key.public_key())
    leaf = certificates[0]
    leaf_spki = _certificate_spki(leaf)
    if leaf_spki is None:
        raise CertificateProblem(
            CHAIN, "the certificate's public key does not parse (a kind of key not supported)"
        )
    if leaf_spki != key_spki:
        if any(_certificate_spki(c) == key_spki for c in certificates[1:]):
            whose = "server's" if server else "client's"
            raise CertificateProblem(
                CHAIN, f"the first certificate must be the {whose} own (leaf) certificate"
            )
        raise CertificateProblem(KEY, "the private key does not match the certificate")
    not_before, not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    # RFC 5280: valid from notBefore through notAfter, both included.
    if not_after < now:
        raise CertificateProblem(CHAIN, f"the certificate expired on {_when(not_after)}")
    if now < not_before:
        raise CertificateProblem(
            CHAIN, f"the certificate is not yet valid (valid from {_when(not_before)})"
        )
    hostnames = _hostnames(leaf) if server else ()
    try:
        subject, issuer = leaf.subject.rfc4514_string(), leaf.issuer.rfc4514_string()
    except ValueError:
        raise CertificateProblem(
            CHAIN, "the certificate's subject or issuer does not parse"
        ) from None
    return CheckedCertificate(
        hostnames=hostnames,
        not_before=not_before,
        not_after=not_after,
        fingerprint_sha256=hashlib.sha256(
            leaf.public_bytes(serialization.Encoding.DER)
        ).hexdigest(),
        subject=subject,
        issuer=issuer,
        key_type=key_type,
        chain_pem="".join(
            c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates
        ),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def expires_within(checked_not_after: datetime, now: datetime, days: int) -> bool:
    """True when a certificate ending at `checked_not_after` has `days` or fewer left at
    `now`, an expired one included: time to warn its owner to rotate it."""
    return checked_not_after - now <= timedelta(days=days)


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
