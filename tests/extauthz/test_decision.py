"""The Check decision, branch by branch, on a store built from real xDS resources."""

import json
from typing import Any

import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2

from extauthz.decision import decide as decide_who
from extauthz.route_context import RouteContext
from extauthz.store import Store
from mgmt.compiler.lifecycle import Successor, retired_problem
from protos.tollgate.v1 import resources_pb2
from tests.extauthz.factories import (
    DRAFT_API,
    NOW,
    PUBLISHED_API,
    World,
    application_shards,
    grant,
    route,
)

pytestmark = pytest.mark.pure

OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
UNAUTHENTICATED = 16
PERMISSION_DENIED = 7


@pytest.fixture(scope="module")
def world() -> World:
    return World()


@pytest.fixture(scope="module")
def store(world: World) -> Store:
    return world.store()


def decide(headers: dict[str, str], extensions: dict[str, str], store: Store, now: float) -> bytes:
    """The decision as the gRPC transport answers it (prebuilt bytes, so `is` holds)."""
    return decide_who(headers, RouteContext.of(extensions), store, now).grpc


def check(store: Store, headers: dict[str, str], extensions: dict[str, str] | None = None) -> Any:
    raw = decide(headers, route() if extensions is None else extensions, store, NOW)
    return external_auth_pb2.CheckResponse.FromString(raw)


def headers_of(options: Any) -> dict[str, str]:
    return {option.header.key: option.header.value for option in options}


def problem_of(response: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(response.denied_response.body)
    return document


def assert_problem(response: Any, status: int, slug: str) -> None:
    assert response.HasField("denied_response")
    assert not response.HasField("ok_response")
    assert response.denied_response.status.code == status
    document = problem_of(response)
    assert document["type"] == f"https://tollgate.dev/problems/{slug}"
    assert document["status"] == status
    assert document["title"]
    assert document["detail"]
    headers = headers_of(response.denied_response.headers)
    assert headers["content-type"] == "application/problem+json"
    assert headers["cache-control"] == "no-store"
    if status == 401:
        assert response.status.code == UNAUTHENTICATED
        assert headers["www-authenticate"] == 'Bearer realm="tollgate"'
    else:
        assert response.status.code == PERMISSION_DENIED
        assert "www-authenticate" not in headers


def test_request_that_matched_no_tollgate_route_gets_404_unknown_api(
    store: Store, world: World
) -> None:
    response = check(store, {"x-api-key": world.secret("partner")}, {})
    assert_problem(response, 404, "unknown-api")


def test_request_without_a_key_gets_401_missing_credentials(store: Store) -> None:
    assert_problem(check(store, {}), 401, "missing-credentials")


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer "},
        {"authorization": "Bearer    "},
        {"authorization": ""},
        {"authorization": "Basic dXNlcjpwYXNz"},
        {"authorization": "Bearerx tg_abc"},
    ],
    ids=[
        "empty-x-api-key",
        "bearer-alone",
        "bearer-space",
        "bearer-spaces",
        "empty",
        "basic",
        "no-sp",
    ],
)
def test_empty_or_non_bearer_credentials_get_401_missing_credentials(
    store: Store, headers: dict[str, str]
) -> None:
    assert_problem(check(store, headers), 401, "missing-credentials")


def test_malformed_key_gets_401_invalid_credentials(store: Store) -> None:
    assert_problem(check(store, {"x-api-key": "not-a-key"}), 401, "invalid-credentials")


def test_well_formed_key_with_unknown_key_id_gets_401_invalid_credentials(store: Store) -> None:
    from extauthz.keys import issue_key

    assert_problem(check(store, {"x-api-key": issue_key().secret}), 401, "invalid-credentials")


def test_known_key_id_with_wrong_secret_gets_401_invalid_credentials(
    store: Store, world: World
) -> None:
    secret = world.secret("partner")
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert_problem(check(store, {"x-api-key": forged}), 401, "invalid-credentials")


def test_key_revoked_in_the_future_works_until_then(store: Store, world: World) -> None:
    """Rotation with an overlap: the old key's revocation is scheduled, not immediate."""
    before = decide({"x-api-key": world.secret("rotating_out")}, route(), store, NOW)
    after = decide({"x-api-key": world.secret("rotating_out")}, route(), store, NOW + 3600)
    assert external_auth_pb2.CheckResponse.FromString(before).status.code == 0
    assert_problem(external_auth_pb2.CheckResponse.FromString(after), 401, "revoked-credentials")


def test_revoked_key_gets_401_revoked_credentials(store: Store, world: World) -> None:
    response = check(store, {"x-api-key": world.secret("revoked")})
    assert_problem(response, 401, "revoked-credentials")


def test_expired_key_gets_401_expired_credentials(store: Store, world: World) -> None:
    response = check(store, {"x-api-key": world.secret("expired")})
    assert_problem(response, 401, "expired-credentials")


def test_key_expiring_in_the_future_is_allowed(store: Store, world: World) -> None:
    response = check(store, {"x-api-key": world.secret("expiring_later")})
    assert response.HasField("ok_response")


def test_key_of_an_application_missing_from_the_store_gets_401_invalid(
    store: Store, world: World
) -> None:
    response = check(store, {"x-api-key": world.secret("orphan")})
    assert_problem(response, 401, "invalid-credentials")


def test_retired_version_gets_410_problem(store: Store, world: World) -> None:
    response = check(store, {"x-api-key": world.secret("partner")}, route(lifecycle="retired"))
    assert_problem(response, 410, "version-retired")


def test_retired_version_gets_410_without_a_key(store: Store) -> None:
    assert_problem(check(store, {}, route(lifecycle="retired")), 410, "version-retired")


SUNSET = int(NOW) - 60
RETIRED_BODY = retired_problem(
    "Payments", "v1", sunset_at=SUNSET, successor=Successor("v2", "/payments/v2")
)


def past_sunset(retired_body: str = RETIRED_BODY) -> dict[str, str]:
    return route(lifecycle="deprecated", sunset=str(SUNSET), retired_body=retired_body)


def credentials(world: World, name: str) -> dict[str, str]:
    """Headers carrying the named key of `world`, or one of the keys it has not got."""
    from extauthz.keys import issue_key

    if name == "none":
        return {}
    if name == "bad":
        return {"authorization": "Bearer not-a-key"}
    if name == "unknown-id":
        return {"x-api-key": issue_key().secret}
    return {"x-api-key": world.secret(name)}


@pytest.mark.parametrize("name", ["none", "partner", "revoked", "orphan", "bad"])
def test_deprecated_version_past_its_sunset_gets_410_before_the_key_is_checked(
    store: Store, world: World, name: str
) -> None:
    response = check(store, credentials(world, name), past_sunset())
    assert_problem(response, 410, "version-retired")
    assert response.denied_response.body == RETIRED_BODY


def test_past_sunset_answer_names_the_successor_from_the_route(store: Store) -> None:
    problem = problem_of(check(store, {}, past_sunset()))
    assert problem["successor"] == {"version": "v2", "path": "/payments/v2"}
    assert problem["title"] == "API version retired"


def test_sunset_takes_effect_on_its_exact_second(store: Store, world: World) -> None:
    headers = {"x-api-key": world.secret("partner")}
    extensions = route(lifecycle="deprecated", sunset=str(int(NOW)), retired_body=RETIRED_BODY)
    before = decide(headers, extensions, store, NOW - 0.001)
    at = decide(headers, extensions, store, NOW)
    assert external_auth_pb2.CheckResponse.FromString(before).HasField("ok_response")
    assert_problem(external_auth_pb2.CheckResponse.FromString(at), 410, "version-retired")


def test_deprecated_version_before_its_sunset_is_allowed(store: Store, world: World) -> None:
    extensions = route(lifecycle="deprecated", sunset=str(int(NOW) + 1), retired_body="{}")
    response = check(store, {"x-api-key": world.secret("partner")}, extensions)
    assert response.HasField("ok_response")


def test_past_sunset_answer_is_built_once_per_body(store: Store) -> None:
    first = decide({}, past_sunset(), store, NOW)
    assert decide({"x-api-key": "x"}, past_sunset(), store, NOW + 5) is first


def test_past_sunset_without_a_body_gets_the_generic_410(store: Store) -> None:
    for extensions in (past_sunset(retired_body=""), route(sunset=str(SUNSET))):
        raw = decide({}, extensions, store, NOW)
        assert raw == decide({}, route(lifecycle="retired"), store, NOW)


def test_past_sunset_with_a_body_protobuf_cannot_carry_gets_the_generic_410(store: Store) -> None:
    raw = decide({}, past_sunset(retired_body="\ud800"), store, NOW)
    assert raw == decide({}, route(lifecycle="retired"), store, NOW)


@pytest.mark.parametrize(
    "sunset",
    ["", " ", "soon", "1.5", "0", "-5", "1e9", "\ud800", "9" * 5000, "\x00"],
)
def test_a_sunset_that_is_not_a_positive_integer_is_ignored(
    store: Store, world: World, sunset: str
) -> None:
    extensions = route(lifecycle="deprecated", sunset=sunset, retired_body=RETIRED_BODY)
    response = check(store, {"x-api-key": world.secret("partner")}, extensions)
    assert response.HasField("ok_response")


@pytest.mark.parametrize(
    "name", ["none", "bad", "unknown-id", "revoked", "expired", "orphan", "partner"]
)
def test_draft_without_key_is_404_not_401(store: Store, world: World, name: str) -> None:
    """Only the owner may learn a draft exists: every other denial is the unknown-API 404."""
    headers = credentials(world, name)
    draft = decide(headers, route(DRAFT_API, "draft"), store, NOW)
    assert draft == decide(headers, {}, store, NOW)
    assert_problem(external_auth_pb2.CheckResponse.FromString(draft), 404, "unknown-api")


def test_owner_of_a_draft_without_a_subscription_gets_403(store: Store, world: World) -> None:
    response = check(store, {"x-api-key": world.secret("owner")}, route("300", "draft"))
    assert_problem(response, 403, "not-subscribed")


def test_draft_seen_by_another_organization_gets_the_unknown_api_404_byte_for_byte(
    store: Store, world: World
) -> None:
    draft = decide({"x-api-key": world.secret("partner")}, route(DRAFT_API, "draft"), store, NOW)
    unknown = decide({"x-api-key": world.secret("partner")}, {}, store, NOW)
    assert draft == unknown
    assert_problem(external_auth_pb2.CheckResponse.FromString(draft), 404, "unknown-api")


def test_draft_is_allowed_for_the_owner_organization(store: Store, world: World) -> None:
    response = check(store, {"x-api-key": world.secret("owner")}, route(DRAFT_API, "draft"))
    assert response.status.code == 0
    assert headers_of(response.ok_response.headers)["x-plan"] == "internal"


def test_deprecated_version_is_still_allowed(store: Store, world: World) -> None:
    response = check(store, {"x-api-key": world.secret("partner")}, route(lifecycle="deprecated"))
    assert response.HasField("ok_response")


def test_application_without_a_grant_for_the_api_gets_403_not_subscribed(
    store: Store, world: World
) -> None:
    response = check(store, {"x-api-key": world.secret("partner")}, route(api="300"))
    assert_problem(response, 403, "not-subscribed")


def test_allowed_key_sets_identity_headers_and_strips_x_api_key(store: Store, world: World) -> None:
    secret = world.secret("partner")
    raw = decide({"x-api-key": secret, "x-consumer-id": "forged"}, route(), store, NOW)
    response = external_auth_pb2.CheckResponse.FromString(raw)
    assert response.status.code == 0
    assert not response.HasField("denied_response")
    ok = response.ok_response
    assert headers_of(ok.headers) == {
        "x-consumer-id": "acme",
        "x-application-id": "app_partner",
        "x-plan": "gold",
    }
    # Overwrite, not append: a client-sent x-consumer-id cannot survive next to ours.
    assert [option.append_action for option in ok.headers] == [OVERWRITE] * 3
    assert list(ok.headers_to_remove) == ["x-api-key"]
    assert dict(response.dynamic_metadata) == {
        "application_id": "1",
        "consumer_id": "acme",
        "plan": "gold",
        # What the rate-limit filter counts against: the grant's subscription.
        "subscription_id": str(int(PUBLISHED_API) + 5000),
        "api_id": PUBLISHED_API,
    }
    assert secret.encode() not in raw


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_key_is_allowed_and_authorization_header_is_stripped(
    store: Store, world: World, scheme: str
) -> None:
    response = check(store, {"authorization": f"{scheme} {world.secret('partner')}"})
    assert response.HasField("ok_response")
    assert list(response.ok_response.headers_to_remove) == ["authorization"]


def test_x_api_key_wins_over_authorization(store: Store, world: World) -> None:
    response = check(
        store,
        {
            "x-api-key": world.secret("revoked"),
            "authorization": f"Bearer {world.secret('partner')}",
        },
    )
    assert_problem(response, 401, "revoked-credentials")


@pytest.mark.parametrize("name", ["partner", "revoked", "expired", "orphan", "owner"])
@pytest.mark.parametrize("lifecycle", ["published", "draft", "retired"])
def test_the_key_never_appears_in_any_response(
    store: Store, world: World, name: str, lifecycle: str
) -> None:
    secret = world.secret(name)
    for headers in ({"x-api-key": secret}, {"authorization": f"Bearer {secret}"}):
        raw = decide(headers, route(lifecycle=lifecycle), store, NOW)
        assert secret.encode() not in raw
        assert secret[len("tg_") + 12 + 1 :].encode() not in raw


def test_allowed_answer_is_cached_until_applications_change(world: World) -> None:
    store = world.store()
    headers = {"x-api-key": world.secret("partner")}
    first = decide(headers, route(), store, NOW)
    assert decide(headers, route(), store, NOW) is first

    upgraded = resources_pb2.Application()
    upgraded.CopyFrom(world.partner)
    del upgraded.grants[:]
    upgraded.grants.append(grant(PUBLISHED_API, "platinum"))
    store.replace_application_shards(application_shards([upgraded, world.owner]))

    response = external_auth_pb2.CheckResponse.FromString(decide(headers, route(), store, NOW))
    assert headers_of(response.ok_response.headers)["x-plan"] == "platinum"


def test_decide_before_any_data_answers_503_not_an_exception(world: World) -> None:
    raw = decide({"x-api-key": world.secret("partner")}, route(), Store(), NOW)
    response = external_auth_pb2.CheckResponse.FromString(raw)
    assert response.denied_response.status.code == 503
    assert response.status.code == 14


BIG = 64 * 1024


def hostile_headers(world: World) -> list[dict[str, str]]:
    key_id = world.keys["partner"].key_id
    # Key-shaped, real key id, but with lone surrogates in the secret: must not crash hashing.
    surrogate_key = f"tg_{key_id}_" + "\ud800" * 43
    return [
        {"x-api-key": "a" * BIG},
        {"x-api-key": "tg_" + "x" * BIG},
        {"authorization": "Bearer " + "a" * BIG},
        {"authorization": "Bearer" + " " * BIG},
        {"authorization": "B" * BIG},
        {"x-api-key": "\udcff" * 59},
        {"x-api-key": surrogate_key},
        {"authorization": "Bearer " + surrogate_key},
        {"x-api-key": "tg_\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00_" + "\x00" * 43},
        {"x-api-key": "tg_" + "é" * 12 + "_" + "ü" * 43},
        {"x-api-key": " " + world.secret("partner")},
        {"x-api-key": world.secret("partner") + " "},
        {"x-api-key": "\r\n" * BIG},
        {"": "", "x-api-key": "\U0001f600" * 59},
    ]


def test_hostile_headers_get_a_clean_401(store: Store, world: World) -> None:
    for headers in hostile_headers(world):
        response = check(store, headers)
        assert response.denied_response.status.code == 401, headers.keys()


@pytest.mark.parametrize(
    "extensions",
    [
        {"api": ""},
        {"api": "\udcff"},
        {"api": "x" * BIG, "lifecycle": "y" * BIG, "owner": "\ud800"},
        {"api": PUBLISHED_API, "lifecycle": "draft", "owner": ""},
        {"api": PUBLISHED_API, "lifecycle": "RETIRED"},
        {"api": PUBLISHED_API, "sunset": "\ud800", "retired_body": "\ud800"},
        {"api": PUBLISHED_API, "sunset": "x" * BIG, "retired_body": "y" * BIG},
    ],
    ids=[
        "empty-api",
        "surrogate-api",
        "huge",
        "draft-no-owner",
        "upper-case-lifecycle",
        "surrogate-sunset",
        "huge-sunset",
    ],
)
def test_odd_route_context_gets_a_clean_answer(
    store: Store, world: World, extensions: dict[str, str]
) -> None:
    response = check(store, {"x-api-key": world.secret("partner")}, extensions)
    assert response.HasField("ok_response") or response.denied_response.status.code in (403, 404)
