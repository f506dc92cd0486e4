"""Admin for API owners: issuers refused on the field at fault, token clients mapped and
revoked in the issuer's inline, client certificates registered through the partners' checks
and listed with expiry warnings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from mgmt.identity import services
from mgmt.identity.models import ClientCertificate, TokenClient, TokenIssuer
from tests.identity.material import certificate, ec_jwk, jwks, pem
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]
ADD_ISSUER = "/admin/identity/tokenissuer/add/"
ADD_CERTIFICATE = "/admin/identity/clientcertificate/add/"
NOW = datetime.now(UTC)
INLINE = "clients"


@pytest.fixture(autouse=True)
def _quiet(settings: Any) -> None:
    settings.TOLLGATE_AUTO_PUBLISH = False


def issuer_form(**more: str) -> dict[str, str]:
    return {
        "name": "corp-idp",
        "issuer": "https://login.corp.example/",
        "audiences": "api://orders",
        "jwks_uri": "https://login.corp.example/jwks",
        "jwks_json": "",
        "algorithms": "RS256",
        "leeway_seconds": "60",
        "client_claims": "azp client_id",
        "jwks_cache_seconds": "300",
        "enabled": "on",
        f"{INLINE}-TOTAL_FORMS": "0",
        f"{INLINE}-INITIAL_FORMS": "0",
        **more,
    }


def form_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form is shown again with its errors"
    return {k: list(v) for k, v in response.context["adminform"].form.errors.items()}


def test_an_issuer_with_an_inline_client_is_saved(admin_client: Client) -> None:
    app = factories.application()
    api = factories.api()
    answer = admin_client.post(
        ADD_ISSUER,
        issuer_form(
            apis=str(api.pk),
            **{
                f"{INLINE}-TOTAL_FORMS": "1",
                f"{INLINE}-0-client_id": "checkout-service",
                f"{INLINE}-0-application": str(app.pk),
            },
        ),
    )
    assert answer.status_code == 302, answer.content[:2000]
    made = TokenIssuer.objects.get()
    assert list(made.apis.all()) == [api]
    assert made.clients.get().application == app


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"algorithms": "RS256 HS256"}, "algorithms", "RFC 8725"),
        ({"jwks_uri": "http://login.corp.example/jwks"}, "jwks_uri", "loopback"),
        ({"jwks_uri": ""}, "jwks_uri", "exactly one"),
        (
            {"jwks_uri": "", "jwks_json": '{"keys": [{"kty": "oct", "k": "AA"}]}'},
            "jwks_json",
            "key 0",
        ),
    ],
)
def test_bad_issuers_are_refused_on_their_field(
    admin_client: Client, fields: dict[str, str], field: str, words: str
) -> None:
    errors = form_errors(admin_client.post(ADD_ISSUER, issuer_form(**fields)))
    assert words in " ".join(errors[field])
    assert not TokenIssuer.objects.exists()


def test_an_inline_jwks_is_accepted(admin_client: Client) -> None:
    answer = admin_client.post(
        ADD_ISSUER,
        issuer_form(jwks_uri="", jwks_json=jwks(ec_jwk(alg="ES256")), algorithms="ES256"),
    )
    assert answer.status_code == 302


def test_a_client_is_revoked_in_the_inline_and_not_repointed(admin_client: Client) -> None:
    issuer = services.create_token_issuer(
        **{k: v for k, v in issuer_form().items() if "-" not in k and k != "enabled"}
    )
    app, other = factories.application(), factories.application()
    client = services.map_token_client(issuer=issuer, client_id="svc", application=app)
    url = f"/admin/identity/tokenissuer/{issuer.pk}/change/"
    answer = admin_client.post(
        url,
        issuer_form(
            **{
                f"{INLINE}-TOTAL_FORMS": "1",
                f"{INLINE}-INITIAL_FORMS": "1",
                f"{INLINE}-0-id": str(client.pk),
                f"{INLINE}-0-issuer": str(issuer.pk),
                f"{INLINE}-0-client_id": "hijacked",
                f"{INLINE}-0-application": str(other.pk),
                f"{INLINE}-0-revoke": "on",
            }
        ),
    )
    assert answer.status_code == 302, answer.content[:3000]
    client.refresh_from_db()
    assert client.revoked_at is not None
    assert (client.client_id, client.application_id) == ("svc", app.pk)
    assert TokenClient.objects.count() == 1


def test_a_certificate_is_registered_in_admin_with_the_same_checks(admin_client: Client) -> None:
    app = factories.application()
    good = admin_client.post(
        ADD_CERTIFICATE,
        {
            "application": str(app.pk),
            "name": "ops",
            "certificate_pem_text": pem(certificate(now=NOW)),
        },
    )
    assert good.status_code == 302
    assert ClientCertificate.objects.get().name == "ops"
    ca = admin_client.post(
        ADD_CERTIFICATE,
        {"application": str(app.pk), "certificate_pem_text": pem(certificate(now=NOW, ca=True))},
    )
    assert "CA certificate" in form_errors(ca)["certificate_pem_text"][0]
    both = admin_client.post(ADD_CERTIFICATE, {"application": str(app.pk)})
    assert "either the certificate" in form_errors(both)["fingerprint"][0]
    assert ClientCertificate.objects.count() == 1


def test_the_list_warns_of_certificates_expiring_soon(admin_client: Client) -> None:
    app = factories.application()
    soon = certificate(now=NOW, days=10, common_name="soon.partner.example")
    later = certificate(now=NOW, days=200, common_name="later.partner.example")
    services.register_client_certificate(application=app, name="soon", certificate_pem=pem(soon))
    services.register_client_certificate(application=app, name="later", certificate_pem=pem(later))
    page = admin_client.get("/admin/identity/clientcertificate/")
    warnings = [str(m) for m in page.context["messages"]]
    assert len(warnings) == 1 and warnings[0].startswith('Client certificate "soon"')
    assert "expires in 9 days" in warnings[0]


def test_the_revoke_action_revokes(admin_client: Client) -> None:
    made = services.register_client_certificate(
        application=factories.application(), fingerprint="aa" * 32
    )
    answer = admin_client.post(
        "/admin/identity/clientcertificate/",
        {"action": "revoke_certificates", "_selected_action": [str(made.pk)]},
    )
    assert answer.status_code == 302
    made.refresh_from_db()
    assert made.revoked_at is not None
