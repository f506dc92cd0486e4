"""Certificates in admin: checked at upload, the key sealed and never shown again, rotation
under the same name, expiry warnings; only platform operators see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from mgmt.compiler.tls import secret_name
from mgmt.gateway import publishing
from mgmt.gateway.models import Snapshot
from mgmt.tls.local_ca import LocalCa, issue_server_certificate, new_local_ca
from mgmt.tls.models import ServerCertificate
from xds_server import sealing

pytestmark = pytest.mark.django_db
ADD = "/admin/tls/servercertificate/add/"
NOW = datetime.now(UTC)


@pytest.fixture
def ca() -> LocalCa:
    return new_local_ca(now=NOW - timedelta(days=1))


def _post(client: Client, url: str, **fields: str) -> Any:
    return client.post(url, {"enabled": "on", **fields})


def _errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form is shown again with its errors"
    return {k: list(v) for k, v in response.context["adminform"].form.errors.items()}


def test_an_upload_is_stored_sealed_and_the_key_is_never_shown_again(
    admin_client: Client, ca: LocalCa, sealing_key_file: Path
) -> None:
    chain, key = issue_server_certificate(ca, ["api.example.com"], now=NOW)
    response = _post(admin_client, ADD, name="api", certificate_chain=chain, private_key=key)
    assert response.status_code == 302
    cert = ServerCertificate.objects.get()
    assert cert.hostnames == ["api.example.com"]
    assert b"PRIVATE KEY" not in bytes(cert.sealed_key)
    opened = sealing.open_sealed(
        sealing.parse_key(sealing_key_file.read_text()), secret_name("api"), bytes(cert.sealed_key)
    )
    assert b"PRIVATE KEY" in opened
    page = admin_client.get(f"/admin/tls/servercertificate/{cert.pk}/change/").content.decode()
    assert "api.example.com" in page and cert.fingerprint_sha256 in page
    assert key.splitlines()[1] not in page and "PRIVATE KEY" not in page


def test_an_expired_certificate_is_refused_and_the_key_not_echoed(
    admin_client: Client, sealing_key_file: Path
) -> None:
    old_ca = new_local_ca(now=NOW - timedelta(days=800))
    chain, key = issue_server_certificate(
        old_ca, ["a.example.com"], now=NOW - timedelta(days=400), days=30
    )
    response = _post(admin_client, ADD, name="old", certificate_chain=chain, private_key=key)
    errors = _errors(response)
    assert "expired" in errors["certificate_chain"][0]
    assert key.splitlines()[1] not in response.content.decode()
    assert not ServerCertificate.objects.exists()


def test_a_key_that_does_not_match_is_refused_on_its_field(
    admin_client: Client, ca: LocalCa, sealing_key_file: Path
) -> None:
    chain, _ = issue_server_certificate(ca, ["a.example.com"], now=NOW)
    _, other_key = issue_server_certificate(ca, ["a.example.com"], now=NOW)
    errors = _errors(
        _post(admin_client, ADD, name="a", certificate_chain=chain, private_key=other_key)
    )
    assert errors["private_key"] == ["the private key does not match the certificate"]


def test_garbage_is_refused_and_nothing_is_stored(
    admin_client: Client, sealing_key_file: Path
) -> None:
    errors = _errors(_post(admin_client, ADD, name="a", certificate_chain="hello", private_key="x"))
    assert list(errors) == ["certificate_chain"] or list(errors) == ["private_key"]
    assert not ServerCertificate.objects.exists()


def test_a_hostname_served_by_another_certificate_is_refused(
    admin_client: Client, ca: LocalCa, sealing_key_file: Path
) -> None:
    for name in ("first", "second"):
        chain, key = issue_server_certificate(ca, ["shared.example.com"], now=NOW)
        response = _post(admin_client, ADD, name=name, certificate_chain=chain, private_key=key)
    assert 'already served by certificate "first"' in _errors(response)["certificate_chain"][0]
    assert ServerCertificate.objects.count() == 1


def test_rotation_keeps_the_name_and_replaces_chain_and_key(
    admin_client: Client, ca: LocalCa, sealing_key_file: Path
) -> None:
    chain, key = issue_server_certificate(ca, ["api.example.com"], now=NOW)
    _post(admin_client, ADD, name="api", certificate_chain=chain, private_key=key)
    cert = ServerCertificate.objects.get()
    change = f"/admin/tls/servercertificate/{cert.pk}/change/"
    # Name and "enabled" alone: chain and key kept.
    assert _post(admin_client, change).status_code == 302
    assert ServerCertificate.objects.get().fingerprint_sha256 == cert.fingerprint_sha256
    # A chain without its key is refused.
    new_chain, new_key = issue_server_certificate(ca, ["api.example.com"], now=NOW)
    assert "private_key" in _errors(_post(admin_client, change, certificate_chain=new_chain))
    # Both: rotated under the same name (its own hostnames do not conflict with itself).
    response = _post(admin_client, change, certificate_chain=new_chain, private_key=new_key)
    assert response.status_code == 302
    rotated = ServerCertificate.objects.get()
    assert rotated.name == "api" and rotated.fingerprint_sha256 != cert.fingerprint_sha256


def test_without_a_sealing_key_nothing_is_stored_and_the_form_says_why(
    admin_client: Client, ca: LocalCa, settings: Any
) -> None:
    settings.TOLLGATE_SECRETS_KEY_FILE = None
    chain, key = issue_server_certificate(ca, ["api.example.com"], now=NOW)
    response = _post(admin_client, ADD, name="api", certificate_chain=chain, private_key=key)
    form = response.context["adminform"].form
    assert "TOLLGATE_SECRETS_KEY_FILE is not set" in form.non_field_errors()[0]
    assert not ServerCertificate.objects.exists()


def test_the_list_warns_of_a_certificate_that_expires_within_30_days(
    admin_client: Client, ca: LocalCa, sealing_key_file: Path
) -> None:
    chain, key = issue_server_certificate(ca, ["soon.example.com"], now=NOW, days=10)
    assert (
        _post(admin_client, ADD, name="soon", certificate_chain=chain, private_key=key).status_code
        == 302
    )
    chain, key = issue_server_certificate(ca, ["later.example.com"], now=NOW, days=90)
    assert (
        _post(admin_client, ADD, name="later", certificate_chain=chain, private_key=key).status_code
        == 302
    )
    page = admin_client.get("/admin/tls/servercertificate/")
    warnings = [str(m) for m in page.context["messages"] if m.level_tag == "warning"]
    assert warnings == [
        'Certificate "soon" expires in 9 days ('
        + f"{ServerCertificate.objects.get(name='soon').not_after:%Y-%m-%d}"
        + ")."
    ]


def test_api_owners_who_are_not_operators_do_not_see_certificates(client: Client) -> None:
    owner = User.objects.create_user("owner", password="pw", is_staff=True)
    client.force_login(owner)
    assert client.get("/admin/tls/servercertificate/").status_code == 403


def test_a_sealing_key_that_no_longer_opens_the_keys_is_refused_before_xds_server(
    admin_client: Client, ca: LocalCa, sealing_key_file: Path
) -> None:
    chain, key = issue_server_certificate(ca, ["api.example.com"], now=NOW)
    assert (
        _post(admin_client, ADD, name="api", certificate_chain=chain, private_key=key).status_code
        == 302
    )
    original = sealing_key_file.read_text()
    sealing_key_file.write_text(sealing.new_key_text())  # replaced, say, by a redeploy
    refused = publishing.publish_snapshot()
    assert refused.status == "refused"
    assert 'certificate "api": its private key does not open' in refused.errors
    sealing_key_file.write_text(original)
    assert publishing.publish_snapshot().status == "published"


def _files(tmp_path: Path, chain: str, key: str) -> tuple[str, str]:
    (tmp_path / "tls.crt").write_text(chain)
    (tmp_path / "tls.key").write_text(key)
    return str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")


def test_files_mgmt_can_read_are_checked_and_the_key_never_enters_the_database(
    admin_client: Client, ca: LocalCa, tmp_path: Path, settings: Any
) -> None:
    settings.TOLLGATE_SECRETS_KEY_FILE = None  # nothing is sealed: none is needed
    chain, key = issue_server_certificate(ca, ["files.example.com"], now=NOW)
    chain_file, key_file = _files(tmp_path, chain, key)
    response = _post(admin_client, ADD, name="files", chain_file=chain_file, key_file=key_file)
    assert response.status_code == 302
    cert = ServerCertificate.objects.get()
    assert cert.hostnames == ["files.example.com"] and cert.not_after is not None
    assert cert.chain_pem == "" and bytes(cert.sealed_key) == b""
    assert publishing.publish_snapshot().status == "published"
    payload = bytes(Snapshot.objects.filter(status="published").get().payload)
    assert key.splitlines()[1].encode() not in payload and key_file.encode() in payload


@pytest.mark.parametrize(
    ("which", "field", "message"),
    [
        ("relative", "chain_file", "an absolute path"),
        ("dotdot", "key_file", "without . or .."),
        ("chain-only", "key_file", "Give both files"),
        ("two-dirs", "key_file", "in the chain file's directory"),
        ("and-upload", "chain_file", "not both"),
        ("other-key", "key_file", "does not match the certificate (read from the file)"),
        ("password", "key_password", "no password"),
    ],
)
def test_bad_certificate_files_are_refused_on_their_field(
    admin_client: Client, ca: LocalCa, *, tmp_path: Path, which: str, field: str, message: str
) -> None:
    chain, key = issue_server_certificate(ca, ["files.example.com"], now=NOW)
    chain_file, key_file = _files(tmp_path, chain, key)
    fields = {"name": "files", "chain_file": chain_file, "key_file": key_file}
    if which == "relative":
        fields["chain_file"] = "tls/tls.crt"
    elif which == "dotdot":
        fields["key_file"] = f"{tmp_path}/../{tmp_path.name}/tls.key"
    elif which == "chain-only":
        fields["key_file"] = ""
    elif which == "two-dirs":
        fields["key_file"] = "/etc/keys/tls.key"
    elif which == "and-upload":
        fields["certificate_chain"] = chain
    elif which == "other-key":
        (tmp_path / "tls.key").write_text(issue_server_certificate(ca, ["x.example"], now=NOW)[1])
    elif which == "password":
        fields["key_password"] = "s3cret"
    errors = _errors(_post(admin_client, ADD, **fields))
    assert message in errors[field][0], errors
    assert not ServerCertificate.objects.exists()


def test_files_mgmt_cannot_read_need_hostnames_and_are_saved_with_a_warning(
    admin_client: Client, tmp_path: Path
) -> None:
    elsewhere = {"chain_file": "/run/gateway-only/tls.crt", "key_file": "/run/gateway-only/tls.key"}
    errors = _errors(_post(admin_client, ADD, name="far", **elsewhere))
    assert "mgmt cannot read these files" in errors["hostnames_text"][0]
    errors = _errors(_post(admin_client, ADD, name="far", **elsewhere, hostnames_text="not a host"))
    assert "not a hostname: not a host" in errors["hostnames_text"][0]

    response = admin_client.post(
        ADD,
        {
            "name": "far",
            "enabled": "on",
            **elsewhere,
            "hostnames_text": "API.example.com\n*.example.com",
        },
        follow=True,
    )
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert any("mgmt cannot read /run/gateway-only/tls.crt" in w for w in warnings), warnings
    cert = ServerCertificate.objects.get()
    assert cert.hostnames == ["api.example.com", "*.example.com"] and cert.not_after is None
    page = admin_client.get("/admin/tls/servercertificate/").content.decode()
    assert "not checked (files mgmt cannot read)" in page
