"""Who called, for Envoy's access log: the sidecar's answers carry the application,
subscription, API, plan and key id as dynamic metadata (HTTP: metadata headers Envoy keeps
from the client; gRPC: CheckResponse.dynamic_metadata), on allowed calls and on the refusals
of a known application, and never the key's secret."""

from typing import Any

import pytest
from envoy.service.auth.v3 import external_auth_pb2

from extauthz import answers
from extauthz.decision import decide, presented_key_id
from extauthz.gate import render_grpc, render_http
from extauthz.meter import UNMETERED
from extauthz.route_context import RouteContext
from ratelimit_svc.leases import Refused
from tests.extauthz.factories import NOW, World, route

pytestmark = pytest.mark.pure

CONTEXT = RouteContext.of(route())


def _http_headers(answer: bytes) -> dict[str, str]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")[1:]
    return dict(line.split(": ", 1) for line in lines)


def _grpc(answer: bytes) -> Any:
    return external_auth_pb2.CheckResponse.FromString(answer)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def _allowance(world: World, key: str = "partner") -> tuple[answers.Allowance, str]:
    store = world.store()
    headers = {"x-api-key": world.secret(key)}
    decided = decide(headers, CONTEXT, store, NOW)
    assert isinstance(decided, answers.Allowance)
    return decided, presented_key_id(headers)


def test_key_id_is_the_visible_part_of_either_carrier(world: World) -> None:
    secret = world.secret("partner")
    key_id = world.keys["partner"].key_id
    assert presented_key_id({"x-api-key": secret}) == key_id
    assert presented_key_id({"authorization": f"Bearer {secret}"}) == key_id
    assert secret not in key_id and len(key_id) == 12


def test_http_allowed_answer_names_the_caller_and_its_key_in_metadata(world: World) -> None:
    allowance, key_id = _allowance(world)
    assert CONTEXT is not None
    headers = _http_headers(render_http(allowance, UNMETERED, CONTEXT, key_id))
    assert headers["x-tollgate-application-id"] == "1"
    assert headers["x-tollgate-subscription-id"] == "5200"
    assert headers["x-tollgate-plan"] == "gold"
    assert headers["x-tollgate-key-id"] == key_id
    assert world.secret("partner") not in str(headers)


def test_grpc_allowed_answer_merges_the_key_id_into_the_prebuilt_metadata(world: World) -> None:
    allowance, key_id = _allowance(world)
    assert CONTEXT is not None
    response = _grpc(render_grpc(allowance, UNMETERED, CONTEXT, key_id))
    metadata = dict(response.dynamic_metadata)
    assert metadata["application_id"] == "1"
    assert metadata["plan"] == "gold"
    assert metadata["key_id"] == key_id
    assert response.ok_response.headers  # the identity headers are still there


def test_a_refusal_is_counted_against_its_application(world: World) -> None:
    allowance, key_id = _allowance(world)
    assert CONTEXT is not None
    refused = Refused(b'{"status":429}', 3, "", "")
    http = render_http(allowance, refused, CONTEXT, key_id)
    assert http.startswith(b"HTTP/1.1 429 ")
    headers = _http_headers(http)
    assert headers["x-tollgate-application-id"] == "1"
    assert headers["x-tollgate-key-id"] == key_id
    assert headers["retry-after"] == "3"
    assert http.endswith(b'{"status":429}')
    grpc = _grpc(render_grpc(allowance, refused, CONTEXT, key_id))
    assert grpc.denied_response.status.code == 429
    assert dict(grpc.dynamic_metadata)["application_id"] == "1"
    assert dict(grpc.dynamic_metadata)["key_id"] == key_id


def test_not_subscribed_names_the_application_in_metadata_only() -> None:
    world = World()
    world.partner.ClearField("grants")
    store = world.store()
    denial = decide({"x-api-key": world.secret("partner")}, CONTEXT, store, NOW)
    assert isinstance(denial, answers.Denial)
    assert denial.http.startswith(b"HTTP/1.1 403 ")
    assert _http_headers(denial.http)["x-tollgate-application-id"] == "1"
    assert b'"status":403' in denial.http.split(b"\r\n\r\n", 1)[1]
    grpc = _grpc(denial.grpc)
    assert grpc.denied_response.status.code == 403
    assert dict(grpc.dynamic_metadata)["application_id"] == "1"
    # Built once per application and API, then served from the snapshot's cache.
    again = decide({"x-api-key": world.secret("partner")}, CONTEXT, store, NOW)
    assert again is denial


def test_a_forged_api_id_names_nobody() -> None:
    denial = answers.not_subscribed(application_id=1, api_id="1\r\nx-evil: 1")
    assert denial is answers.DENIALS["not-subscribed"]
