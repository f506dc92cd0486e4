"""The checks of a partner's client certificate: one end-entity certificate, valid now, with
a strong key, kept by the SHA-256 of its DER; or that fingerprint alone, normalised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from mgmt.identity.client_cert_checks import (
    ClientCertificateProblem,
    check_client_certificate,
    colon_hex,
    parse_fingerprint,
)
from tests.identity.material import certificate, der_sha256, ec_key, pem, private_key_pem, rsa_key

pytestmark = [pytest.mark.pure]
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def refusal(text: str) -> str:
    with pytest.raises(ClientCertificateProblem) as caught:
        check_client_certificate(text, now=NOW)
    assert caught.value.field == "certificate_pem"
    return str(caught.value)


def test_a_client_certificate_is_described_by_its_der_fingerprint() -> None:
    cert = certificate(now=NOW, key=rsa_key(2048), days=30)
    checked = check_client_certificate("\n  " + pem(cert) + "\n", now=NOW)
    assert checked.fingerprint_sha256 == der_sha256(cert)
    assert len(checked.fingerprint_sha256) == 32
    assert checked.subject == "CN=checkout.partner.example"
    assert checked.not_after == cert.not_valid_after_utc
    assert checked.pem == pem(cert)


@pytest.mark.parametrize("key", [ec_key("P-384"), ed25519.Ed25519PrivateKey.generate()])
def test_ec_and_ed25519_keys_are_accepted(key: object) -> None:
    assert check_client_certificate(pem(certificate(now=NOW, key=key)), now=NOW)  # type: ignore[arg-type]


def test_an_expired_certificate_is_refused_with_its_date() -> None:
    cert = certificate(now=NOW, days=10, starts=timedelta(days=-20))
    assert refusal(pem(cert)).startswith("the certificate expired on 2026-11-24")


def test_a_certificate_not_yet_valid_is_refused() -> None:
    assert "not valid before" in refusal(pem(certificate(now=NOW, starts=timedelta(days=2))))


def test_a_ca_certificate_is_refused() -> None:
    assert "CA certificate" in refusal(pem(certificate(now=NOW, ca=True)))


def test_a_weak_rsa_key_is_refused() -> None:
    assert "RSA key of 1024 bits" in refusal(pem(certificate(now=NOW, key=rsa_key(1024))))


def test_an_ec_key_below_p256_is_refused() -> None:
    weak = ec.generate_private_key(ec.SECP224R1())
    assert "P-256 or stronger" in refusal(pem(certificate(now=NOW, key=weak)))


def test_a_private_key_pasted_by_mistake_is_refused_and_never_echoed() -> None:
    key_text = private_key_pem(ec_key())
    message = refusal(key_text)
    assert "never send it" in message
    assert key_text.splitlines()[1] not in message


def test_a_private_key_beside_the_certificate_is_refused_too() -> None:
    text = pem(certificate(now=NOW)) + private_key_pem(ec_key())
    assert "never send it" in refusal(text)


def test_several_certificates_are_refused() -> None:
    text = pem(certificate(now=NOW)) + pem(certificate(now=NOW))
    assert "several certificates" in refusal(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "give the certificate"),
        ("hello", "not a PEM certificate"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n", "cut short"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "does not parse"),
    ],
)
def test_what_is_not_one_pem_certificate_is_refused(text: str, words: str) -> None:
    assert words in refusal(text)


def test_naive_times_are_a_programming_error() -> None:
    with pytest.raises(TypeError):
        check_client_certificate(pem(certificate(now=NOW)), now=NOW.replace(tzinfo=None))


def test_fingerprints_are_normalised_from_any_case_and_colons() -> None:
    digest = bytes(range(32))
    spelled = colon_hex(digest)
    assert spelled.startswith("00:01:02") and len(spelled) == 95
    assert parse_fingerprint(spelled) == digest
    assert parse_fingerprint(spelled.lower()) == digest
    assert parse_fingerprint(digest.hex().upper()) == digest
    assert parse_fingerprint(f"sha256 Fingerprint={spelled}\n") == digest


@pytest.mark.parametrize("text", ["", "abc", "0" * 63, "0" * 65, "g" * 64, "0" * 62 + " 0"])
def test_what_is_not_a_sha256_fingerprint_is_refused(text: str) -> None:
    with pytest.raises(ClientCertificateProblem) as caught:
        parse_fingerprint(text)
    assert caught.value.field == "fingerprint"
