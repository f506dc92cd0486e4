"""Creating and deleting applications spends a budget per account, in the developer API
and the portal alike: each is a new snapshot for every gateway."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mgmt.gateway.models import Application
from tests.devapi.world import World, problem

pytestmark = [pytest.mark.db]


@pytest.fixture
def two_per_hour(settings: Any) -> None:
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates.update({"application_creation": "2/hour", "application_deletion": "2/hour"})
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def _apps(world: World) -> str:
    return f"/api/v1/orgs/{world.alice.org}/applications"


@pytest.mark.usefixtures("two_per_hour")
def test_creating_applications_past_the_budget_is_429_problem_with_retry_after(world: World):
    client = world.alice.client
    made = [client.post(_apps(world), {"name": f"churn {n}"}, format="json") for n in range(3)]

    assert [r.status_code for r in made] == [201, 201, 429]
    assert 1 <= int(made[2]["Retry-After"]) <= 3600
    assert problem(made[2])["type"].endswith("/too-many-requests")
    assert not Application.objects.filter(name="churn 2").exists()
    # Listing is not creating; another account has its own budget.
    assert client.get(_apps(world)).status_code == 200
    bob = f"/api/v1/orgs/{world.bob.org}/applications"
    assert world.bob.client.post(bob, {"name": "b"}, format="json").status_code == 201


@pytest.mark.usefixtures("two_per_hour")
def test_deleting_applications_past_the_budget_is_429_and_deletes_nothing(world: World):
    client = world.alice.client
    ids = [
        client.post(_apps(world), {"name": f"d{n}"}, format="json").json()["public_id"]
        for n in range(2)
    ]
    ids.append(world.alice.application.public_id)

    deleted = [client.delete(f"{_apps(world)}/{public_id}") for public_id in ids]

    assert [r.status_code for r in deleted] == [204, 204, 429]
    assert int(deleted[2]["Retry-After"]) >= 1
    assert problem(deleted[2])["type"].endswith("/too-many-requests")
    assert Application.objects.filter(public_id=ids[2]).exists()
    # Reading and changing an application are not deleting it.
    assert client.get(f"{_apps(world)}/{ids[2]}").status_code == 200
    patched = client.patch(f"{_apps(world)}/{ids[2]}", {"description": "kept"}, format="json")
    assert patched.status_code == 200


@pytest.mark.usefixtures("two_per_hour")
def test_the_portal_spends_the_same_budgets(world: World):
    client = Client()
    client.force_login(world.alice.user)
    org = world.alice.org
    # One creation through the API, one through the portal: the third is refused.
    assert world.alice.client.post(_apps(world), {"name": "api"}, format="json").status_code == 201
    page = reverse("portal:applications", args=[org])
    assert client.post(page, {"name": "portal one"}).status_code == 302
    refused = client.post(page, {"name": "portal two"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert not Application.objects.filter(name="portal two").exists()

    doomed = list(Application.objects.filter(organization__slug=org).order_by("pk"))
    for application in doomed[:2]:
        url = reverse("portal:delete-application", args=[org, application.public_id])
        assert client.post(url, {"confirm": "on"}).status_code == 302
    last = reverse("portal:delete-application", args=[org, doomed[2].public_id])
    assert client.post(last, {"confirm": "on"}).status_code == 429
    assert Application.objects.filter(pk=doomed[2].pk).exists()
