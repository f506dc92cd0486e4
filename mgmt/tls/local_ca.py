"""A local CA and the server (and client) certificates it signs, for `make run` and the tests.

`make run` serves HTTPS out of the box: it needs a certificate a client can be told to trust
(curl --cacert), without a public CA or openssl on the machine. The certificate issued here
goes through the same upload checks as any other (`pem_checks.check_server_certificate`).

Pure: keys and certificates are made in memory with `cryptography` and returned as PEM; no
files, no subprocess. Storing the CA is the caller's business.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Issued a little in the past, so that a client whose clock is a bit behind accepts it.
_BACKDATE = timedelta(minutes=5)
# X.509's upper bound on a CommonName (ub-common-name); a longer hostname goes in the SAN only.
_MAX_COMMON_NAME = 64


@dataclass(frozen=True, slots=True)
class LocalCa:
    """The CA's certificate and its key (unencrypted PKCS#8), both PEM."""

    cert_pem: str
    key_pem: str


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _key_usage(*, digital_signature: bool = False, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def new_local_ca(*, now: datetime, name: str = "Tollgate local CA", days: int = 3650) -> LocalCa:
    """A self-signed EC P-256 CA valid `days` from `now`, that may sign server certificates
    only (path length 0: no intermediate under it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return LocalCa(cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key))


def _authority_key_identifier(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    # The CA's own SubjectKeyIdentifier, as clients match the two byte for byte; computed
    # from its key only for a CA made without one.
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        public_key = ca_cert.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise ValueError("the local CA's key must be an EC key") from None
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def issue_server_certificate(
    ca: LocalCa,
    hostnames: Sequence[str],
    *,
    now: datetime,
    days: int = 397,
    ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
) -> tuple[str, str]:
    """(chain PEM: the server's certificate then the CA's, key PEM: PKCS#8 unencrypted)
    for `hostnames` and `ip_addresses`, signed by `ca`.

    397 days by default: the longest browsers accept for a server certificate. Never valid
    past the CA itself. Raises ValueError for no hostname, a bad IP address or an expired CA.
    """
    if not hostnames:
        raise ValueError("a server certificate needs at least one hostname")
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    common_name = hostnames[0] if len(hostnames[0]) <= _MAX_COMMON_NAME else "Tollgate server"
    return _issue(ca, common_name, names, ExtendedKeyUsageOID.SERVER_AUTH, now=now, days=days)


def issue_client_certificate(
    ca: LocalCa, common_name: str, *, now: datetime, days: int = 397
) -> tuple[str, str]:
    """(chain PEM, key PEM) of a client certificate (TLS client authentication only) for
    `common_name`, signed by `ca`: what the gateway presents to an upstream that asks."""
    return _issue(ca, common_name, [], ExtendedKeyUsageOID.CLIENT_AUTH, now=now, days=days)


def _issue(
    ca: LocalCa,
    common_name: str,
    names: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    *,
    now: datetime,
    days: int,
) -> tuple[str, str]:
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the local CA's key must be an EC key")
    # cryptography reads a naive time as UTC; so does this, to compare with the CA's end.
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    not_before = now - _BACKDATE
    # A certificate that outlives its CA is refused by clients past the CA's end anyway.
    not_after = min(now + timedelta(days=days), ca_cert.not_valid_after_utc)
    if not_after <= not_before:
        raise ValueError("the local CA has expired: make a new one")
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = (
        builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # ECDSA keys sign the handshake, nothing else.
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(ca_cert), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM).decode() + ca.cert_pem
    if not chain.endswith("\n"):
        chain += "\n"
    return chain, _pem_key(key)
