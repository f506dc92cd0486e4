"""Bad input gets a 4xx problem with the fields to blame, never a 500, never a partial
write: malformed and oversized bodies, wrong types, text PostgreSQL cannot store, paths
no database could look up."""

import json
from typing import Any

import pytest

from mgmt.gateway.models import ApiKey, Application
from tests.devapi.world import World, problem

pytestmark = [pytest.mark.db]


def _rows() -> tuple[int, int]:
    return Application.objects.count(), ApiKey.objects.count()


def _raw(world: World, path: str, body: bytes, content_type: str = "application/json") -> Any:
    return world.alice.client.generic("POST", path, body, content_type=content_type)


def test_malformed_json_and_non_objects_are_400(world: World):
    apps = f"/api/v1/orgs/{world.alice.org}/applications"
    before = _rows()
    for body, kind in [
        (b'{"name": "x"', "malformed-body"),
        (b'{"name": NaN}', "malformed-body"),
        (b"\xff\xfe{}", "malformed-body"),
        (b"[1, 2]", "invalid-input"),
        (b'"name"', "invalid-input"),
        (b"null", "invalid-input"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed-body"),
    ]:
        response = _raw(world, apps, body)
        assert response.status_code == 400, (body[:20], response.content)
        assert problem(response)["type"].endswith(kind), body[:20]
    assert _rows() == before


def test_only_json_is_accepted(world: World):
    apps = f"/api/v1/orgs/{world.alice.org}/applications"
    response = _raw(world, apps, b"name=x", "application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert problem(response)["type"].endswith("/unsupported-media-type")


def test_an_oversized_body_is_413_before_it_is_parsed(world: World, settings: Any):
    settings.TOLLGATE_API_MAX_BODY_BYTES = 1024
    apps = f"/api/v1/orgs/{world.alice.org}/applications"
    body = json.dumps({"name": "big", "description": "x" * 2000}).encode()
    response = _raw(world, apps, body)
    assert response.status_code == 413
    assert problem(response)["type"].endswith("/payload-too-large")
    assert not Application.objects.filter(name="big").exists()
    small = _raw(world, apps, json.dumps({"name": "small"}).encode())
    assert small.status_code == 201


def test_wrong_types_and_limits_name_their_fields(world: World):
    alice = world.alice
    apps = f"/api/v1/orgs/{alice.org}/applications"
    cases: list[tuple[str, dict[str, Any], str]] = [
        (apps, {"name": 5}, "name"),
        (apps, {"name": ["a"]}, "name"),
        (apps, {"name": ""}, "name"),
        (apps, {"name": "x" * 201}, "name"),
        (apps, {"name": "ok", "contact_email": "not-mail"}, "contact_email"),
        (apps, {}, "name"),
        (f"{alice.app}/keys", {"expires_at": "tomorrow"}, "expires_at"),
        (f"{alice.app}/keys", {"label": {"a": 1}}, "label"),
        (
            f"{alice.app}/keys/{alice.key.key_id}/rotate",
            {"overlap_seconds": "soon"},
            "overlap_seconds",
        ),
        (f"{alice.app}/keys/{alice.key.key_id}/rotate", {"overlap_seconds": -1}, "overlap_seconds"),
        (f"{alice.app}/keys/{alice.key.key_id}/rotate", {}, "overlap_seconds"),
        (f"{alice.app}/subscriptions", {"plan": "no such plan!"}, "plan"),
        (
            f"{alice.sub}/limit-requests",
            {"quota_requests": 10**30, "reason": "x"},
            "quota_requests",
        ),
        (
            f"/api/v1/orgs/{alice.org}/invitations",
            {"email": "x@example.com", "role": "god"},
            "role",
        ),
    ]
    before = _rows()
    for path, body, field in cases:
        response = alice.client.post(path, body, format="json")
        assert response.status_code == 400, (path, body, response.content)
        assert field in problem(response)["errors"], (path, body, response.json())
    assert _rows() == before


def test_text_the_database_cannot_store_is_refused_by_field(world: World):
    apps = f"/api/v1/orgs/{world.alice.org}/applications"
    before = _rows()
    for body, field in [
        (b'{"name": "nul\\u0000byte"}', "name"),
        (b'{"name": "lone \\ud800 surrogate"}', "name"),
        (b'{"name": "ok", "description": "\\udfff"}', "description"),
        (b'{"\\u0000": 1, "name": "ok"}', "body"),
    ]:
        response = _raw(world, apps, body)
        assert response.status_code == 400, (body, response.content)
        assert field in problem(response)["errors"], (body, response.json())
    assert _rows() == before


def test_paths_no_database_could_look_up_are_404(world: World):
    client, org = world.alice.client, world.alice.org
    for path in [
        f"/api/v1/orgs/{org}%00",
        f"/api/v1/orgs/{org}/members/{'9' * 30}",
        f"/api/v1/orgs/{org}/members/0",
        f"{world.alice.app}/subscriptions/99999999999999999",
        "/api/v1/catalog/apis/x/versions/%00",
        "/api/v1/catalog/apis/x/versions/v1%2F..",
        "/api/v1/orgs/",
        "/api/v1/me/",
        "/api/v1/me%0A",
        f"/api/v1/orgs/{org}%0A/applications",
    ]:
        response = client.get(path)
        assert response.status_code == 404, (path, response.content)
        assert problem(response)["type"].endswith("/not-found")


def test_paging_bounds_are_clamped_not_errors(world: World):
    apps = f"/api/v1/orgs/{world.alice.org}/applications"
    for query in [
        "?limit=0",
        "?limit=-5",
        "?offset=-1",
        "?limit=abc",
        f"?offset={10**40}",
        "?limit=100000",
    ]:
        response = world.alice.client.get(apps + query)
        assert response.status_code == 200, (query, response.content)
    one = world.alice.client.get(apps + "?limit=1&offset=0").json()
    assert one["count"] == 1 and len(one["results"]) == 1


def test_a_method_an_endpoint_lacks_is_405_problem(world: World):
    response = world.alice.client.put(world.alice.sub, {"plan": "x"}, format="json")
    assert response.status_code == 405
    assert problem(response)["type"].endswith("/method-not-allowed")
