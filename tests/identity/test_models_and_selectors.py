"""Issuers, token clients and client certificates in the database: the model checks admin and
the services apply, the compiler's rows (bounded queries, revocations kept a day), and a
snapshot published on every committed change."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mgmt.compiler.inputs import ClientCertificateRow, TokenClientRow, TokenIssuerRow
from mgmt.developers.errors import InvalidInput
from mgmt.gateway import publishing
from mgmt.identity import selectors, services
from mgmt.identity.models import ClientCertificate, TokenClient, TokenIssuer
from tests.identity.material import certificate, der_sha256, ec_jwk, jwks, pem, rsa_jwk
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]
NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _no_publication(settings: Any) -> None:
    settings.TOLLGATE_AUTO_PUBLISH = False


def issuer(name: str = "corp-idp", **more: Any) -> TokenIssuer:
    fields: dict[str, Any] = {
        "name": name,
        "issuer": f"https://{name}.example.com/",
        "audiences": "api://orders",
        "jwks_uri": f"https://{name}.example.com/jwks",
        **more,
    }
    return services.create_token_issuer(**fields)


def errors_of(make: Callable[[], object]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        make()
    return caught.value.message_dict


def test_an_issuer_gets_the_documented_defaults() -> None:
    made = issuer()
    assert made.algorithm_list() == ("RS256",)
    assert made.client_claim_list() == ("azp", "client_id")
    assert (made.leeway_seconds, made.jwks_cache_seconds, made.enabled) == (60, 300, True)


def test_an_issuer_needs_exactly_one_source_of_keys() -> None:
    assert "jwks_uri" in errors_of(lambda: issuer(jwks_uri=""))
    both = errors_of(lambda: issuer(jwks_json=jwks(rsa_jwk())))
    assert "exactly one" in both["jwks_uri"][0]


def test_an_inline_jwks_is_checked_against_the_issuers_algorithms() -> None:
    made = issuer(jwks_uri="", jwks_json=jwks(ec_jwk(alg="ES256")), algorithms="ES256")
    assert made.pk
    refused = errors_of(
        lambda: issuer(
            "other", jwks_uri="", jwks_json=jwks(ec_jwk(alg="ES256")), algorithms="RS256"
        )
    )
    assert "key 0: alg 'ES256' is not in the issuer's algorithms" in refused["jwks_json"][0]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("algorithms", "HS256", "RFC 8725"),
        ("algorithms", "none", "RFC 8725"),
        ("jwks_uri", "http://idp.example.com/jwks", "loopback"),
        ("leeway_seconds", 301, "300"),
        ("jwks_cache_seconds", 10, "30"),
        ("jwks_cache_seconds", 86401, "86400"),
        ("audiences", "  ", "audience"),
        ("client_claims", "", ""),
        ("client_claims", "azp client_id sub cid", "at most 3"),
        ("name", "Not A Slug", ""),
        # Tollgate's own issuer is in every snapshot: a twin would make them all fail.
        ("name", "tollgate", "Tollgate's own issuer"),
        ("issuer", "http://127.0.0.1:8000/oauth", "TOLLGATE_OAUTH_ISSUER"),
    ],
)
def test_bad_issuer_settings_are_refused_on_their_field(field: str, value: Any, words: str) -> None:
    refused = errors_of(lambda: issuer(**{field: value}))
    assert words in " ".join(refused[field])


def test_issuer_and_name_are_unique() -> None:
    issuer()
    assert "issuer" in errors_of(
        lambda: issuer("corp-idp-2", issuer="https://corp-idp.example.com/")
    )
    assert "name" in errors_of(lambda: issuer("corp-idp", issuer="https://else.example.com/"))


def test_a_client_maps_to_one_application_until_revoked() -> None:
    made = issuer()
    first, second = factories.application(), factories.application()
    mapped = services.map_token_client(issuer=made, client_id="checkout", application=first)
    refused = errors_of(
        lambda: services.map_token_client(issuer=made, client_id="checkout", application=second)
    )
    assert "revoke that mapping first" in str(refused)
    services.revoke_token_client(client=mapped)
    again = services.map_token_client(issuer=made, client_id="checkout", application=second)
    assert again.application_id == second.pk


def test_issuer_rows_are_the_enabled_issuers_with_sorted_api_ids() -> None:
    apis = [factories.api() for _ in range(3)]
    b = issuer("b-idp", algorithms="ES256 RS256", audiences="one\ntwo")
    b.apis.set([apis[2], apis[0]])
    issuer("a-idp", jwks_uri="", jwks_json=jwks(rsa_jwk()))
    issuer("c-idp", enabled=False)
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.issuer_rows()
    assert len(queries.captured_queries) == 2
    assert [r.name for r in rows] == ["a-idp", "b-idp"]
    assert rows[0].jwks_json and rows[0].jwks_uri == "" and rows[0].api_ids == ()
    assert rows[1] == TokenIssuerRow(
        name="b-idp",
        issuer="https://b-idp.example.com/",
        audiences=("one", "two"),
        jwks_uri="https://b-idp.example.com/jwks",
        algorithms=("ES256", "RS256"),
        leeway_seconds=60,
        client_claims=("azp", "client_id"),
        jwks_cache_seconds=300,
        api_ids=tuple(sorted((apis[0].pk, apis[2].pk))),
    )


def test_token_client_rows_keep_a_revocation_for_a_day_and_prefer_the_open_mapping() -> None:
    made, off = issuer(), issuer("off-idp", enabled=False)
    app1, app2 = factories.application(), factories.application()
    now = timezone.now()
    old = services.map_token_client(issuer=made, client_id="moved", application=app1)
    services.revoke_token_client(client=old, at=now - timedelta(hours=1))
    services.map_token_client(issuer=made, client_id="moved", application=app2)
    recent = services.map_token_client(issuer=made, client_id="gone", application=app1)
    services.revoke_token_client(client=recent, at=now - timedelta(hours=2))
    stale = services.map_token_client(issuer=made, client_id="ancient", application=app1)
    services.revoke_token_client(client=stale, at=now - timedelta(days=2))
    services.map_token_client(issuer=off, client_id="x", application=app1)
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.token_client_rows(now)
    assert len(queries.captured_queries) == 1
    iss = "https://corp-idp.example.com/"
    assert rows == (
        TokenClientRow(iss, "gone", app1.pk, int((now - timedelta(hours=2)).timestamp())),
        TokenClientRow(iss, "moved", app2.pk, 0),
    )


def test_client_certificate_rows_by_fingerprint() -> None:
    app1, app2 = factories.application(), factories.application()
    now = timezone.now()
    cert = certificate(now=now, days=30)
    by_pem = services.register_client_certificate(application=app1, certificate_pem=pem(cert))
    services.revoke_client_certificate(certificate=by_pem, at=now - timedelta(minutes=5))
    again = services.register_client_certificate(application=app2, certificate_pem=pem(cert))
    by_print = services.register_client_certificate(application=app1, fingerprint="ab" * 32)
    old = services.register_client_certificate(application=app1, fingerprint="cd" * 32)
    services.revoke_client_certificate(certificate=old, at=now - timedelta(days=3))
    with CaptureQueriesContext(connection) as queries:
        rows = selectors.client_certificate_rows(now)
    assert len(queries.captured_queries) == 1
    assert set(rows) == {
        ClientCertificateRow(der_sha256(cert), app2.pk, int(again.not_after.timestamp()), 0),
        ClientCertificateRow(bytes.fromhex("ab" * 32), app1.pk, 0, 0),
    }
    assert by_print.not_after is None and by_print.subject == ""


def test_a_fingerprint_registered_anywhere_is_refused_until_revoked() -> None:
    app1, app2 = factories.application(), factories.application()
    services.register_client_certificate(application=app1, fingerprint="AB:" * 31 + "AB")
    with pytest.raises(InvalidInput) as caught:
        services.register_client_certificate(application=app2, fingerprint="ab" * 32)
    assert caught.value.errors == {"fingerprint": [services.TAKEN]}
    assert ClientCertificate.objects.count() == 1


def test_revoking_twice_keeps_the_first_time() -> None:
    made = services.register_client_certificate(
        application=factories.application(), fingerprint="01" * 32
    )
    first = services.revoke_client_certificate(certificate=made).revoked_at
    assert services.revoke_client_certificate(certificate=made).revoked_at == first
    assert ClientCertificate.objects.get().state() == "revoked"


@pytest.fixture
def publications(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[int]:
    """Counts the publications queued (each change's signal), whatever was queued before in
    the test's never-committed transaction."""
    queued: list[int] = []
    settings.TOLLGATE_AUTO_PUBLISH = True
    monkeypatch.setattr(publishing, "publish_on_commit", lambda: queued.append(1))
    return queued


def test_every_identity_change_queues_a_publication(publications: list[int], settings: Any) -> None:
    app, api = factories.application(), factories.api()
    publications.clear()
    made = issuer()
    assert len(publications) >= 1
    steps: list[Callable[[], object]] = [
        lambda: made.apis.add(api),
        lambda: made.apis.remove(api),
        lambda: services.map_token_client(issuer=made, client_id="c", application=app),
        lambda: services.revoke_token_client(client=TokenClient.objects.get()),
        lambda: services.register_client_certificate(application=app, fingerprint="0f" * 32),
        lambda: services.revoke_client_certificate(certificate=ClientCertificate.objects.get()),
        lambda: TokenIssuer.objects.filter(pk=made.pk).delete(),
    ]
    for step in steps:
        publications.clear()
        step()
        assert publications, step
    settings.TOLLGATE_AUTO_PUBLISH = False
    publications.clear()
    services.register_client_certificate(application=app, fingerprint="0e" * 32)
    assert publications == []


@pytest.mark.django_db(transaction=True)
def test_a_revocation_is_covered_by_a_published_snapshot(settings: Any) -> None:
    settings.TOLLGATE_AUTO_PUBLISH = True
    made = services.register_client_certificate(
        application=factories.application(), fingerprint="0e" * 32
    )
    with publishing.tracking() as covering:
        services.revoke_client_certificate(certificate=made)
    assert covering, "the revocation's commit was covered by a publication"
