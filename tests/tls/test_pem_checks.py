"""The upload checks of a server certificate and key, on certificates made here with
`cryptography`: what Envoy can serve is accepted and described, everything else is refused on
the field at fault, in words that never carry key material."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from mgmt.tls.local_ca import new_local_ca
from mgmt.tls.pem_checks import (
    CertificateProblem,
    CheckedCertificate,
    check_ca_bundle,
    check_client_certificate,
    check_server_certificate,
    expires_within,
)

pytestmark = [pytest.mark.pure]

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOT_BEFORE = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
NOT_AFTER = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
HOST = "api.example.com"


# --- helpers: keys, certificates and PEM made with cryptography ---------------------------


_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "p256": ec.SECP256R1(),
    "p384": ec.SECP384R1(),
    "p521": ec.SECP521R1(),
    "secp256k1": ec.SECP256K1(),
}


@cache
def _key(kind: str, which: int = 0) -> CertificateIssuerPrivateKeyTypes:
    """A key per (kind, which), made once: RSA keys are slow to generate."""
    del which  # only part of the cache key: another `which`, another key
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    if kind in _EC_CURVES:
        return ec.generate_private_key(_EC_CURVES[kind])
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "dsa":
        return dsa.generate_private_key(key_size=2048)
    raise AssertionError(kind)


def _name(common_name: str | None) -> x509.Name:
    if common_name is None:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tollgate tests")])
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _signature_hash(key: CertificateIssuerPrivateKeyTypes) -> hashes.SHA256 | None:
    # Ed25519 signs without a separate hash; every other key here with SHA-256.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _ca(which: int = 0) -> tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes]:
    key = _key("p256", 100 + which)
    name = _name(f"Test CA {which}")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE - timedelta(days=365))
        .not_valid_after(NOT_AFTER + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _cert(
    key: CertificateIssuerPrivateKeyTypes,
    *,
    dns: Sequence[str] | None = (HOST,),
    ips: Sequence[str] = (),
    common_name: str | None = HOST,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime = NOT_AFTER,
    is_ca: bool = False,
) -> x509.Certificate:
    """A server certificate for `key`, signed by test CA 0; no SAN when `dns` is None and
    there is no IP."""
    ca_cert, ca_key = _ca()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns or ()]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if is_ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    return builder.sign(ca_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def _key_pem(
    key: CertificateIssuerPrivateKeyTypes,
    *,
    password: bytes | None = None,
    key_format: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8,
) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, key_format, encryption).decode()


def _check(
    chain: str, key: str, *, now: datetime = NOW, password: bytes | None = None
) -> CheckedCertificate:
    return check_server_certificate(chain, key, now=now, password=password)


def _problem(
    chain: str, key: str, *, now: datetime = NOW, password: bytes | None = None
) -> CertificateProblem:
    with pytest.raises(CertificateProblem) as raised:
        _check(chain, key, now=now, password=password)
    return raised.value


# --- accepted ------------------------------------------------------------------------------


def test_a_good_rsa_2048_certificate_is_accepted_and_described() -> None:
    key = _key("rsa2048")
    leaf = _cert(key)
    ca_cert, _ = _ca()

    checked = _check(_pem(leaf, ca_cert), _key_pem(key))

    assert checked.hostnames == (HOST,)
    assert checked.key_type == "RSA 2048"
    assert checked.not_before == NOT_BEFORE
    assert checked.not_after == NOT_AFTER
    assert checked.not_after.utcoffset() == timedelta(0)
    expected = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert checked.fingerprint_sha256 == expected
    assert checked.subject == f"CN={HOST}"
    assert checked.issuer == "CN=Test CA 0"
    assert checked.chain_pem == _pem(leaf, ca_cert)


def test_a_good_ec_p256_certificate_is_accepted_and_its_key_given_back_as_pkcs8() -> None:
    key = _key("p256")
    leaf = _cert(key, dns=("API.Example.com", "www.example.com", "api.example.com"))

    checked = _check(_pem(leaf), _key_pem(key))

    assert checked.key_type == "EC P-256"
    # Lower-cased, in the certificate's order, each once.
    assert checked.hostnames == ("api.example.com", "www.example.com")
    assert checked.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    given_back = serialization.load_pem_private_key(checked.key_pem, password=None)
    assert isinstance(given_back, ec.EllipticCurvePrivateKey)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert given_back.private_numbers() == key.private_numbers()


@pytest.mark.parametrize(
    ("kind", "key_type"), [("p384", "EC P-384"), ("ed25519", "Ed25519"), ("rsa3072", "RSA 3072")]
)
def test_other_servable_keys_are_accepted(kind: str, key_type: str) -> None:
    key = _key(kind)
    assert _check(_pem(_cert(key)), _key_pem(key)).key_type == key_type


def test_a_sec1_ec_key_is_accepted_and_given_back_as_pkcs8() -> None:
    key = _key("p256")
    sec1 = _key_pem(key, key_format=serialization.PrivateFormat.TraditionalOpenSSL)
    assert sec1.startswith("-----BEGIN EC PRIVATE KEY-----")
    assert _check(_pem(_cert(key)), sec1).key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_the_chain_is_given_back_normalized() -> None:
    key = _key("p256")
    leaf, (ca_cert, _) = _cert(key), _ca()
    pasted = "Bag Attributes: from an export\r\n" + _pem(leaf, ca_cert).replace("\n", "\r\n")

    checked = _check(pasted.rstrip(), _key_pem(key))

    assert checked.chain_pem == _pem(leaf, ca_cert)
    assert checked.chain_pem.endswith("-----END CERTIFICATE-----\n")


def test_a_wildcard_is_kept_and_ip_addresses_are_not_hostnames() -> None:
    key = _key("p256")
    leaf = _cert(key, dns=("*.example.com", "example.com"), ips=("192.0.2.7", "2001:db8::1"))
    assert _check(_pem(leaf), _key_pem(key)).hostnames == ("*.example.com", "example.com")


def test_without_a_san_the_common_name_is_the_hostname() -> None:
    key = _key("p256")
    leaf = _cert(key, dns=None, common_name="Legacy.Example.com")
    assert _check(_pem(leaf), _key_pem(key)).hostnames == ("legacy.example.com",)


def test_a_leaf_that_says_it_is_a_ca_is_still_served() -> None:
    key = _key("p256")
    checked = _check(_pem(_cert(key, is_ca=True)), _key_pem(key))
    assert checked.hostnames == (HOST,)


def test_a_certificate_is_valid_through_its_last_second() -> None:
    key = _key("p256")
    checked = _check(_pem(_cert(key)), _key_pem(key), now=NOT_AFTER)
    assert checked.not_after == NOT_AFTER


def test_an_encrypted_key_with_its_password_is_accepted_and_given_back_unencrypted() -> None:
    key = _key("p256")
    encrypted = _key_pem(key, password=b"s3cret")
    assert "ENCRYPTED" in encrypted

    checked = _check(_pem(_cert(key)), encrypted, password=b"s3cret")

    assert checked.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert serialization.load_pem_private_key(checked.key_pem, password=None) is not None


# --- refused: dates, keys, order --------------------------------------------------------------


def test_a_certificate_expired_by_one_second_is_refused() -> None:
    key = _key("p256")
    end = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    leaf = _cert(key, not_before=end - timedelta(days=90), not_after=end)

    problem = _problem(_pem(leaf), _key_pem(key), now=end + timedelta(seconds=1))

    assert problem.field == "certificate_chain"
    assert str(problem) == "the certificate expired on 2026-01-01 00:00 UTC"


def test_a_certificate_not_yet_valid_is_refused() -> None:
    key = _key("p256")
    leaf = _cert(key, not_before=NOW + timedelta(hours=1))

    problem = _problem(_pem(leaf), _key_pem(key))

    assert problem.field == "certificate_chain"
    assert str(problem) == "the certificate is not yet valid (valid from 2026-03-01 13:00 UTC)"


def test_the_key_of_another_certificate_is_refused_on_the_key_field() -> None:
    problem = _problem(_pem(_cert(_key("p256", 0))), _key_pem(_key("p256", 1)))
    assert problem.field == "private_key"
    assert str(problem) == "the private key does not match the certificate"


def test_an_rsa_1024_key_is_refused_as_weak() -> None:
    key = _key("rsa1024")
    problem = _problem(_pem(_cert(key)), _key_pem(key))
    assert problem.field == "private_key"
    assert str(problem) == "an RSA key of 1024 bits is too weak (at least 2048)"


@pytest.mark.parametrize(("kind", "curve"), [("p521", "secp521r1"), ("secp256k1", "secp256k1")])
def test_ec_curves_envoy_does_not_serve_are_refused(kind: str, curve: str) -> None:
    key = _key(kind)
    problem = _problem(_pem(_cert(key)), _key_pem(key))
    assert problem.field == "private_key"
    assert str(problem) == f"EC curve {curve} is not served by Envoy (use P-256 or P-384)"


def test_a_dsa_key_is_refused() -> None:
    problem = _problem(_pem(_cert(_key("p256"))), _key_pem(_key("dsa")))
    assert problem.field == "private_key"
    assert str(problem) == "DSA keys are not served (use RSA or ECDSA)"


def test_a_chain_with_the_ca_first_is_refused_on_its_order() -> None:
    key = _key("p256")
    ca_cert, _ = _ca()

    problem = _problem(_pem(ca_cert, _cert(key)), _key_pem(key))

    assert problem.field == "certificate_chain"
    assert str(problem) == "the first certificate must be the server's own (leaf) certificate"


def test_an_encrypted_key_without_its_password_is_refused() -> None:
    key = _key("p256")
    problem = _problem(_pem(_cert(key)), _key_pem(key, password=b"s3cret"))
    assert problem.field == "private_key"
    assert str(problem) == "the private key is encrypted: give its password"


@pytest.mark.parametrize(
    "key_format",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
)
def test_an_encrypted_key_with_a_wrong_password_is_refused(
    key_format: serialization.PrivateFormat,
) -> None:
    key = _key("p256")
    encrypted = _key_pem(key, password=b"s3cret", key_format=key_format)

    problem = _problem(_pem(_cert(key)), encrypted, password=b"guess")

    assert problem.field == "private_key"
    assert str(problem) == "the private key does not parse (wrong password)"


def test_a_password_for_a_key_that_has_none_is_refused() -> None:
    key = _key("p256")
    problem = _problem(_pem(_cert(key)), _key_pem(key), password=b"s3cret")
    assert problem.field == "private_key"
    assert str(problem) == "the private key is not encrypted: leave the password empty"


# --- refused: names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("common_name", "ips"),
    [
        ("Tollgate test server", ()),  # a CN that is not a hostname
        ("192.0.2.7", ()),  # an IP address in the CN is not a name either
        (None, ("192.0.2.7",)),  # an IP SAN only, no CN
        (None, ()),  # nothing at all
    ],
)
def test_a_certificate_without_a_dns_name_is_refused(
    common_name: str | None, ips: tuple[str, ...]
) -> None:
    key = _key("p256")
    leaf = _cert(key, dns=None, ips=ips, common_name=common_name)

    problem = _problem(_pem(leaf), _key_pem(key))

    assert problem.field == "certificate_chain"
    assert str(problem) == "the certificate has no DNS name (subjectAltName)"


def test_a_client_certificate_needs_no_dns_name_and_is_checked_as_a_servers() -> None:
    key = _key("p256")
    leaf = _cert(key, dns=None, common_name="Tollgate gateway")

    checked = check_client_certificate(_pem(leaf), _key_pem(key), now=NOW)

    assert checked.hostnames == () and checked.subject == "CN=Tollgate gateway"
    with pytest.raises(CertificateProblem, match="does not match"):
        check_client_certificate(_pem(leaf), _key_pem(_key("p256", 1)), now=NOW)
    with pytest.raises(CertificateProblem, match="expired"):
        check_client_certificate(_pem(leaf), _key_pem(key), now=NOT_AFTER + timedelta(days=1))
    ca_cert, _ = _ca()
    with pytest.raises(CertificateProblem, match="the client's own"):
        check_client_certificate(_pem(ca_cert, leaf), _key_pem(key), now=NOW)


# --- refused: the text itself -------------------------------------------------------------------


def test_empty_fields_are_refused_each_on_its_own() -> None:
    key = _key("p256")
    chain = _pem(_cert(key))
    assert _problem("", _key_pem(key)).field == "certificate_chain"
    assert str(_problem(" \n", _key_pem(key))) == "give the certificate chain (PEM)"
    problem = _problem(chain, "\n")
    assert (problem.field, str(problem)) == (
        "private_key",
        "give the certificate's private key (PEM)",
    )


def test_garbage_is_refused_saying_what_it_is_not() -> None:
    key = _key("p256")
    chain = _pem(_cert(key))

    problem = _problem("hello, this is my certificate", _key_pem(key))
    assert problem.field == "certificate_chain"
    assert str(problem) == "not a PEM certificate (-----BEGIN CERTIFICATE-----)"

    problem = _problem(chain, "hello, this is my key")
    assert problem.field == "private_key"
    assert str(problem) == "the private key does not parse (not PEM text)"


def test_a_damaged_certificate_is_refused_with_its_position() -> None:
    key = _key("p256")
    damaged = "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"

    problem = _problem(_pem(_cert(key)) + damaged, _key_pem(key))

    assert problem.field == "certificate_chain"
    assert str(problem) == (
        "certificate 2 of the chain does not parse (damaged, or not an X.509 certificate)"
    )


def test_a_certificate_cut_short_is_refused_not_dropped() -> None:
    key = _key("p256")
    ca_cert, _ = _ca()
    cut = _pem(ca_cert).split("-----END")[0]

    problem = _problem(_pem(_cert(key)) + cut, _key_pem(key))

    assert problem.field == "certificate_chain"
    assert str(problem).startswith("a certificate of the chain is cut short")


def test_a_damaged_key_is_refused() -> None:
    key = _key("p256")
    lines = _key_pem(key).splitlines()
    lines[1] = "A" * len(lines[1])

    problem = _problem(_pem(_cert(key)), "\n".join(lines) + "\n")

    assert problem.field == "private_key"
    reason = "damaged, or a kind of key not supported"
    assert str(problem) == f"the private key does not parse ({reason})"


def test_the_key_in_the_chain_field_is_refused() -> None:
    key = _key("p256")
    key_pem = _key_pem(key)

    problem = _problem(_pem(_cert(key)) + key_pem, key_pem)

    assert problem.field == "certificate_chain"
    assert str(problem) == (
        "this field holds a private key: put the certificates here, the key below"
    )


def test_a_certificate_in_the_key_field_is_refused() -> None:
    chain = _pem(_cert(_key("p256")))
    problem = _problem(chain, chain)
    assert problem.field == "private_key"
    assert str(problem).startswith("this field holds a certificate")


def test_oversized_input_is_refused() -> None:
    key = _key("p256")
    chain, key_pem = _pem(_cert(key)), _key_pem(key)

    problem = _problem(chain + "#" * (64 * 1024), key_pem)
    assert (problem.field, str(problem)) == ("certificate_chain", "the chain is over 64 KiB")

    problem = _problem(chain * 11, key_pem)
    assert (problem.field, str(problem)) == (
        "certificate_chain",
        "more than 10 certificates in the chain",
    )

    problem = _problem(chain, key_pem + "#" * (16 * 1024))
    assert (problem.field, str(problem)) == ("private_key", "the private key is over 16 KiB")


def test_ten_certificates_are_still_accepted() -> None:
    key = _key("p256")
    ca_cert, _ = _ca()
    assert _check(_pem(_cert(key)) + _pem(ca_cert) * 9, _key_pem(key)).hostnames == (HOST,)


def test_a_naive_now_is_a_programming_error() -> None:
    key = _key("p256")
    with pytest.raises(TypeError):
        _check(_pem(_cert(key)), _key_pem(key), now=NOW.replace(tzinfo=None))


def test_no_message_carries_any_line_of_the_key() -> None:
    key = _key("rsa2048")
    key_pem = _key_pem(key)
    encrypted = _key_pem(key, password=b"s3cret")
    damaged = key_pem.replace(key_pem.splitlines()[3], "A" * 64)
    chain = _pem(_cert(key))
    refused = [
        (chain + key_pem, key_pem, None, NOW),  # the key in the chain field
        (key_pem, key_pem, None, NOW),  # the key alone in the chain field
        (chain, damaged, None, NOW),
        (chain, encrypted, None, NOW),
        (chain, encrypted, b"guess", NOW),
        (chain, key_pem, b"s3cret", NOW),
        (_pem(_cert(_key("p256"))), key_pem, None, NOW),  # another certificate's key
        (chain, key_pem, None, NOT_AFTER + timedelta(days=1)),
        (chain, key_pem + "#" * (16 * 1024), None, NOW),
        ("", key_pem, None, NOW),
    ]
    secret_lines = {line for text in (key_pem, encrypted, damaged) for line in text.splitlines()}

    for chain_text, key_text, password, now in refused:
        message = str(_problem(chain_text, key_text, password=password, now=now))
        leaked = [line for line in secret_lines if line and line in message]
        assert leaked == [], message


# --- expires_within -----------------------------------------------------------------------------


def test_expires_within() -> None:
    assert expires_within(NOW + timedelta(days=30), NOW, 30)
    assert not expires_within(NOW + timedelta(days=30, seconds=1), NOW, 30)
    assert expires_within(NOW - timedelta(days=1), NOW, 30), "an expired one included"


# --- check_ca_bundle (the upstream TLS CA bundle shares the chain's reading) -------------------


def test_a_ca_bundle_is_read_and_garbage_or_expired_ones_refused() -> None:
    ca = new_local_ca(now=NOW - timedelta(days=1))
    assert check_ca_bundle(ca.cert_pem, now=NOW).count("BEGIN CERTIFICATE") == 1
    with pytest.raises(CertificateProblem, match="not a PEM certificate") as raised:
        check_ca_bundle("nope", now=NOW)
    assert raised.value.field == "ca_bundle_pem"
    with pytest.raises(CertificateProblem, match="every certificate of the bundle has expired"):
        check_ca_bundle(ca.cert_pem, now=NOW + timedelta(days=4000))
