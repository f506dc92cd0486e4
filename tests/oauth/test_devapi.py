"""The developer API's OAuth client endpoints: create, read, rotate and revoke secrets,
revoke the client; each tried across the tenant line and by a member who may only read."""

from typing import Any

import pytest
from django.test import Client

from mgmt.gateway.models import Role
from tests.devapi.world import World, member, token_client

pytestmark = pytest.mark.db


def token_status(client_id: str, secret: str) -> int:
    response = Client().post(
        "/oauth/token",
        f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}",
        content_type="application/x-www-form-urlencoded",
    )
    return int(response.status_code)


def test_a_partner_creates_a_client_and_its_secret_works_once_shown(world: World) -> None:
    alice = world.alice
    created = alice.client.post(f"{alice.app}/oauth-client")
    assert created.status_code == 201, created.content
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    assert body["client_id"].startswith("tgc_")
    assert body["token_endpoint"].endswith("/oauth/token")
    assert body["client_secret"].startswith(body["secrets"][0]["prefix"])
    assert token_status(body["client_id"], body["client_secret"]) == 200
    shown = alice.client.get(f"{alice.app}/oauth-client").json()
    assert shown["client_id"] == body["client_id"]
    assert body["client_secret"] not in str(shown)
    assert shown["secrets"][0]["state"] == "active"
    again = alice.client.post(f"{alice.app}/oauth-client")
    assert again.status_code == 400
    assert "application" in again.json()["errors"]


def test_rotating_a_secret_keeps_the_old_one_for_the_overlap(world: World) -> None:
    alice = world.alice
    body = alice.client.post(f"{alice.app}/oauth-client").json()
    secret_id = body["secrets"][0]["secret_id"]
    rotated = alice.client.post(
        f"{alice.app}/oauth-client/secrets/{secret_id}/rotate",
        {"overlap_seconds": 600},
        format="json",
    )
    assert rotated.status_code == 201, rotated.content
    assert rotated.json()["previous"]["state"] == "expiring"
    assert token_status(body["client_id"], body["client_secret"]) == 200
    assert token_status(body["client_id"], rotated.json()["client_secret"]) == 200
    now_ends = alice.client.post(
        f"{alice.app}/oauth-client/secrets/{secret_id}/rotate",
        {"overlap_seconds": 0},
        format="json",
    )
    assert now_ends.status_code == 201
    assert token_status(body["client_id"], body["client_secret"]) == 400  # invalid_client
    too_long = alice.client.post(
        f"{alice.app}/oauth-client/secrets/{rotated.json()['secret_id']}/rotate",
        {"overlap_seconds": 31 * 86400},
        format="json",
    )
    assert too_long.status_code == 400
    assert "overlap_seconds" in too_long.json()["errors"]


def test_revoking_a_secret_and_the_client(world: World) -> None:
    alice = world.alice
    body = alice.client.post(f"{alice.app}/oauth-client").json()
    extra = alice.client.post(f"{alice.app}/oauth-client/secrets").json()
    revoked = alice.client.delete(f"{alice.app}/oauth-client/secrets/{extra['secret_id']}")
    assert revoked.status_code == 204
    assert token_status(body["client_id"], extra["client_secret"]) == 400
    assert token_status(body["client_id"], body["client_secret"]) == 200
    assert alice.client.delete(f"{alice.app}/oauth-client").status_code == 204
    assert token_status(body["client_id"], body["client_secret"]) == 400
    assert alice.client.get(f"{alice.app}/oauth-client").status_code == 404
    renewed = alice.client.post(f"{alice.app}/oauth-client")
    assert renewed.status_code == 201
    assert renewed.json()["client_id"] != body["client_id"]


def test_another_tenant_reaches_nothing(world: World) -> None:
    alice, bob = world.alice, world.bob
    body = alice.client.post(f"{alice.app}/oauth-client").json()
    secret_id = body["secrets"][0]["secret_id"]
    attempts: list[Any] = [
        bob.client.get(f"{alice.app}/oauth-client"),
        bob.client.post(f"{alice.app}/oauth-client"),
        bob.client.delete(f"{alice.app}/oauth-client"),
        bob.client.post(f"{alice.app}/oauth-client/secrets"),
        bob.client.delete(f"{alice.app}/oauth-client/secrets/{secret_id}"),
        bob.client.post(
            f"{alice.app}/oauth-client/secrets/{secret_id}/rotate",
            {"overlap_seconds": 0},
            format="json",
        ),
    ]
    assert [a.status_code for a in attempts] == [404] * len(attempts)
    # Bob's own application does not see Alice's secret either.
    bob.client.post(f"{bob.app}/oauth-client")
    assert bob.client.delete(f"{bob.app}/oauth-client/secrets/{secret_id}").status_code == 404
    assert token_status(body["client_id"], body["client_secret"]) == 200


def test_a_billing_member_reads_but_does_not_write(world: World) -> None:
    alice = world.alice
    alice.client.post(f"{alice.app}/oauth-client")
    user, _ = member(alice.organization, "alice-billing@example.com", Role.BILLING)
    billing = token_client(user)
    assert billing.get(f"{alice.app}/oauth-client").status_code == 200
    assert billing.delete(f"{alice.app}/oauth-client").status_code == 403
    assert billing.post(f"{alice.app}/oauth-client/secrets").status_code == 403
