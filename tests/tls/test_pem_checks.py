"""What an uploaded certificate and key must be before Envoy is handed them (pure)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mgmt.tls.local_ca import issue_server_certificate, new_local_ca
from mgmt.tls.pem_checks import CertificateProblem, check_ca_bundle, check_server_certificate

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _pem(key: Key, password: bytes | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def _self_signed(
    key: Key,
    *,
    dns: tuple[str, ...] = ("api.example.com",),
    ips: tuple[str, ...] = (),
    cn: str = "api.example.com",
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=90),
) -> str:
    import ipaddress

    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _problem(chain: str, key: str, **kwargs: object) -> CertificateProblem:
    with pytest.raises(CertificateProblem) as caught:
        check_server_certificate(chain, key, now=NOW, **kwargs)  # type: ignore[arg-type]
    # Nothing of the key ever appears in what is said.
    for line in key.splitlines()[1:-1]:
        assert line not in str(caught.value)
    return caught.value


def test_a_good_ec_certificate_is_read(ec_key: ec.EllipticCurvePrivateKey) -> None:
    chain = _self_signed(ec_key, dns=("API.example.com", "www.example.com", "api.example.com"))
    checked = check_server_certificate(chain, _pem(ec_key), now=NOW)
    assert checked.hostnames == ("api.example.com", "www.example.com")
    assert checked.key_type == "EC P-256"
    assert checked.not_after == NOW + timedelta(days=90)
    der = x509.load_pem_x509_certificate(chain.encode()).public_bytes(serialization.Encoding.DER)
    assert checked.fingerprint_sha256 == hashlib.sha256(der).hexdigest()
    assert checked.subject == "CN=api.example.com"
    assert checked.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")


def test_a_good_rsa_certificate_and_its_chain_are_read(rsa_key: rsa.RSAPrivateKey) -> None:
    ca = new_local_ca(now=NOW - timedelta(days=1))
    chain, key = issue_server_certificate(ca, ["a.example.com"], now=NOW)
    checked = check_server_certificate(chain, key, now=NOW)
    assert checked.chain_pem.count("BEGIN CERTIFICATE") == 2
    rsa_checked = check_server_certificate(_self_signed(rsa_key), _pem(rsa_key), now=NOW)
    assert rsa_checked.key_type == "RSA 2048"


def test_wildcards_are_kept_and_ip_names_ignored(ec_key: ec.EllipticCurvePrivateKey) -> None:
    chain = _self_signed(ec_key, dns=("*.example.com",), ips=("10.0.0.1",))
    assert check_server_certificate(chain, _pem(ec_key), now=NOW).hostnames == ("*.example.com",)


def test_no_subject_alt_name_falls_back_to_a_hostname_common_name(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    chain = _self_signed(ec_key, dns=(), cn="legacy.example.com")
    assert check_server_certificate(chain, _pem(ec_key), now=NOW).hostnames == (
        "legacy.example.com",
    )
    nameless = _self_signed(ec_key, dns=(), cn="Acme Corp")
    assert _problem(nameless, _pem(ec_key)).field == "certificate_chain"


@pytest.mark.parametrize(
    ("not_before", "not_after", "message"),
    [
        (NOW - timedelta(days=9), NOW - timedelta(seconds=1), "expired on 2027-03-01 11:59 UTC"),
        (NOW + timedelta(hours=1), NOW + timedelta(days=9), "not valid before 2027-03-01 13:00"),
    ],
    ids=["expired-a-second-ago", "not-yet-valid"],
)
def test_a_certificate_out_of_its_validity_is_refused(
    ec_key: ec.EllipticCurvePrivateKey, not_before: datetime, not_after: datetime, message: str
) -> None:
    chain = _self_signed(ec_key, not_before=not_before, not_after=not_after)
    problem = _problem(chain, _pem(ec_key))
    assert problem.field == "certificate_chain" and message in str(problem)


def test_a_key_of_another_certificate_is_refused(ec_key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    problem = _problem(_self_signed(ec_key), _pem(other))
    assert (problem.field, str(problem)) == (
        "private_key",
        "the private key does not match the certificate",
    )


def test_the_leaf_must_come_first() -> None:
    ca = new_local_ca(now=NOW - timedelta(days=1))
    chain, key = issue_server_certificate(ca, ["a.example.com"], now=NOW)
    leaf, ca_pem = chain.split("-----END CERTIFICATE-----\n", 1)
    reordered = ca_pem + leaf + "-----END CERTIFICATE-----\n"
    problem = _problem(reordered, key)
    assert "first certificate must be the server's own" in str(problem)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 (on purpose)
            "1024 bits is too weak",
        ),
        (ec.generate_private_key(ec.SECP521R1()), "secp521r1 is not served"),
        (ec.generate_private_key(ec.SECP256K1()), "secp256k1 is not served"),
    ],
    ids=["rsa-1024", "p-521", "secp256k1"],
)
def test_weak_or_unservable_keys_are_refused(key: Key, message: str) -> None:
    problem = _problem(_self_signed(key), _pem(key))
    assert problem.field == "private_key" and message in str(problem)


@pytest.mark.parametrize(
    ("chain", "key", "field", "message"),
    [
        ("", "x", "certificate_chain", "give the certificate chain"),
        ("hello", "x", "certificate_chain", "not a PEM certificate"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "x",
            "certificate_chain",
            "certificate 1 of the chain does not parse",
        ),
        ("x" * 70_000, "x", "certificate_chain", "over 64 KiB"),
    ],
    ids=["empty", "not-pem", "bad-der", "huge"],
)
def test_a_chain_that_is_not_one_is_refused(chain: str, key: str, field: str, message: str) -> None:
    problem = _problem(chain, key)
    assert problem.field == field and message in str(problem)


def test_a_key_pasted_as_the_chain_is_refused_without_echo(
    ec_key: ec.EllipticCurvePrivateKey,
) -> None:
    problem = _problem(_pem(ec_key), _pem(ec_key))
    assert problem.field == "certificate_chain" and "holds a private key" in str(problem)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "give the certificate's private key"),
        ("garbage", "does not parse"),
        ("k" * 20_000, "over 16 KiB"),
    ],
    ids=["empty", "garbage", "huge"],
)
def test_a_key_that_is_not_one_is_refused(
    ec_key: ec.EllipticCurvePrivateKey, key: str, message: str
) -> None:
    problem = _problem(_self_signed(ec_key), key)
    assert problem.field == "private_key" and message in str(problem)


def test_an_encrypted_key_needs_its_password(ec_key: ec.EllipticCurvePrivateKey) -> None:
    chain, locked = _self_signed(ec_key), _pem(ec_key, b"s3cret")
    assert "encrypted: give its password" in str(_problem(chain, locked))
    assert "does not parse" in str(_problem(chain, locked, password=b"wrong"))
    checked = check_server_certificate(chain, locked, now=NOW, password=b"s3cret")
    assert b"ENCRYPTED" not in checked.key_pem  # Envoy is handed it unlocked, sealed


def test_a_ca_bundle_is_read_and_garbage_or_expired_ones_refused() -> None:
    ca = new_local_ca(now=NOW - timedelta(days=1))
    assert check_ca_bundle(ca.cert_pem, now=NOW).count("BEGIN CERTIFICATE") == 1
    with pytest.raises(CertificateProblem, match="not a PEM certificate"):
        check_ca_bundle("nope", now=NOW)
    with pytest.raises(CertificateProblem, match="every certificate of the bundle has expired"):
        check_ca_bundle(ca.cert_pem, now=NOW + timedelta(days=4000))
