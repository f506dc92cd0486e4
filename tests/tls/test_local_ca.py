"""The local CA of `make run` and the server certificates it signs: a CA that is one, and
certificates that pass the upload checks and verify against it."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mgmt.tls.local_ca import LocalCa, issue_server_certificate, new_local_ca
from mgmt.tls.pem_checks import check_server_certificate

pytestmark = [pytest.mark.pure]

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _certificates(chain_pem: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(chain_pem.encode())


@pytest.fixture(scope="module")
def ca() -> LocalCa:
    return new_local_ca(now=NOW - timedelta(days=1))


def test_the_ca_is_a_ca(ca: LocalCa) -> None:
    cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())

    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    assert cert.subject.rfc4514_string() == "CN=Tollgate local CA"
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)  # self-signed
    assert cert.not_valid_after_utc == NOW - timedelta(days=1) + timedelta(days=3650)


def test_the_ca_key_is_ec_p256_pkcs8_unencrypted(ca: LocalCa) -> None:
    assert ca.key_pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"


def test_a_ca_of_its_own_name_and_days() -> None:
    ca = new_local_ca(now=NOW, name="Another CA", days=30)
    cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Another CA"
    assert cert.not_valid_after_utc == NOW + timedelta(days=30)


def test_the_issued_certificate_passes_the_upload_checks(ca: LocalCa) -> None:
    chain, key = issue_server_certificate(ca, ["localhost", "api.test"], now=NOW)

    checked = check_server_certificate(chain, key, now=NOW)

    assert checked.hostnames == ("localhost", "api.test")
    assert checked.key_type == "EC P-256"
    assert checked.issuer == "CN=Tollgate local CA"
    assert checked.chain_pem == chain
    assert checked.not_before == NOW - timedelta(minutes=5)
    assert checked.not_after == NOW + timedelta(days=397)


def test_the_chain_is_the_leaf_then_the_ca_and_the_leaf_verifies_against_it(ca: LocalCa) -> None:
    chain, _ = issue_server_certificate(ca, ["localhost"], now=NOW)
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.encode())

    leaf, second = _certificates(chain)

    assert second == ca_cert
    leaf.verify_directly_issued_by(ca_cert)
    stranger = x509.load_pem_x509_certificate(new_local_ca(now=NOW).cert_pem.encode())
    with pytest.raises((InvalidSignature, ValueError)):
        leaf.verify_directly_issued_by(stranger)


def test_the_leaf_has_the_names_and_addresses_asked(ca: LocalCa) -> None:
    chain, _ = issue_server_certificate(
        ca, ["localhost", "*.local.test"], now=NOW, ip_addresses=("127.0.0.1", "::1", "10.1.2.3")
    )
    leaf = _certificates(chain)[0]

    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "*.local.test"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
        ipaddress.ip_address("10.1.2.3"),
    ]


def test_by_default_the_leaf_covers_the_loopback_addresses(ca: LocalCa) -> None:
    leaf = _certificates(issue_server_certificate(ca, ["localhost"], now=NOW)[0])[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    no_ips = _certificates(issue_server_certificate(ca, ["x.test"], now=NOW, ip_addresses=())[0])
    san = no_ips[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == []


def test_the_leaf_is_a_server_certificate_linked_to_its_ca(ca: LocalCa) -> None:
    chain, key_pem = issue_server_certificate(ca, ["localhost"], now=NOW)
    leaf, ca_cert = _certificates(chain)

    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert leaf.subject.rfc4514_string() == "CN=localhost"
    assert key_pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert key.public_key() == leaf.public_key()


def test_each_certificate_gets_a_key_of_its_own(ca: LocalCa) -> None:
    _, first = issue_server_certificate(ca, ["localhost"], now=NOW)
    _, second = issue_server_certificate(ca, ["localhost"], now=NOW)
    assert first != second
    assert first != ca.key_pem


def test_a_leaf_never_outlives_its_ca() -> None:
    short_ca = new_local_ca(now=NOW, days=30)
    ca_end = x509.load_pem_x509_certificate(short_ca.cert_pem.encode()).not_valid_after_utc

    chain, key = issue_server_certificate(short_ca, ["localhost"], now=NOW)

    assert _certificates(chain)[0].not_valid_after_utc == ca_end
    assert check_server_certificate(chain, key, now=NOW).not_after == ca_end


def test_an_expired_ca_no_hostname_or_a_bad_address_are_refused(ca: LocalCa) -> None:
    with pytest.raises(ValueError, match="the local CA has expired"):
        issue_server_certificate(ca, ["localhost"], now=NOW + timedelta(days=4000))
    with pytest.raises(ValueError, match="at least one hostname"):
        issue_server_certificate(ca, [], now=NOW)
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        issue_server_certificate(ca, ["localhost"], now=NOW, ip_addresses=("not-an-ip",))
