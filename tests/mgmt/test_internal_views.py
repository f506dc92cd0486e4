"""The endpoints xds_server calls: the latest snapshot, and the ACKs and NACKs it reports."""

import json

import pytest
from django.conf import settings

from mgmt.gateway import publishing
from mgmt.gateway.models import SnapshotRejection, XdsNodeStatus
from protos.tollgate.v1 import snapshot_pb2
from tests.mgmt import factories
from xds_server import type_urls

pytestmark = [pytest.mark.db, pytest.mark.django_db]

SNAPSHOT_URL = "/internal/xds/snapshot"
EVENTS_URL = "/internal/xds/events"


def _auth(token: str | None = None) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token or settings.TOLLGATE_INTERNAL_TOKEN}"}


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    return body


def _post_events(client, payload, **headers):
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post(EVENTS_URL, body, content_type="application/json", **(headers or _auth()))


def _published_version() -> str:
    factories.catalog()
    snapshot = publishing.publish_snapshot()
    assert snapshot.status == "published"
    return snapshot.version


def test_snapshot_without_token_is_401_problem(client):
    _published_version()
    _assert_problem(client.get(SNAPSHOT_URL), 401)


def test_snapshot_with_wrong_token_is_401_problem(client):
    _published_version()
    response = client.get(SNAPSHOT_URL, **_auth("x" * len(settings.TOLLGATE_INTERNAL_TOKEN)))
    _assert_problem(response, 401)


def test_snapshot_with_token_without_bearer_scheme_is_401(client):
    _published_version()
    response = client.get(SNAPSHOT_URL, HTTP_AUTHORIZATION=settings.TOLLGATE_INTERNAL_TOKEN)
    _assert_problem(response, 401)


def test_snapshot_before_any_publish_is_404_problem(client):
    factories.catalog()  # rows exist, but nothing was published
    _assert_problem(client.get(SNAPSHOT_URL, **_auth()), 404)


def test_snapshot_after_publish_is_the_protobuf_with_its_version_as_etag(client):
    version = _published_version()

    response = client.get(SNAPSHOT_URL, **_auth())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-protobuf"
    assert response["ETag"] == f'"{version}"'
    message = snapshot_pb2.Snapshot.FromString(response.content)
    assert message.version == version
    assert {s.type_url for s in message.sets} == set(type_urls.PUSH_ORDER)


def test_snapshot_serves_the_latest_published_not_a_later_refused_one(client):
    route = factories.catalog()
    served = publishing.publish_snapshot()
    route.match_type = "regex"
    route.path = "/(?=admin).*"
    route.save()
    assert publishing.publish_snapshot().status == "refused"

    response = client.get(SNAPSHOT_URL, **_auth())

    assert response.status_code == 200
    assert response["ETag"] == f'"{served.version}"'


def test_snapshot_with_matching_if_none_match_is_304_without_body(client):
    version = _published_version()

    response = client.get(SNAPSHOT_URL, HTTP_IF_NONE_MATCH=f'"{version}"', **_auth())

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == f'"{version}"'


def test_snapshot_with_stale_if_none_match_is_200(client):
    version = _published_version()

    response = client.get(SNAPSHOT_URL, HTTP_IF_NONE_MATCH='"stale"', **_auth())

    assert response.status_code == 200
    assert snapshot_pb2.Snapshot.FromString(response.content).version == version


def test_snapshot_post_is_405(client):
    _published_version()
    assert client.post(SNAPSHOT_URL, **_auth()).status_code == 405


def _ack_nack_batch() -> dict:
    return {
        "events": [
            {
                "kind": "ack",
                "node_id": "envoy-1",
                "node_cluster": "edge",
                "type_url": type_urls.CLUSTER,
                "version": "v-good",
                "at": 1_700_000_000,
            },
            {
                "kind": "nack",
                "node_id": "envoy-1",
                "node_cluster": "edge",
                "type_url": type_urls.ROUTE,
                "version": "v-bad",
                "error": "route: invalid regex",
                "at": 1_700_000_001.5,
            },
        ]
    }


def test_valid_ack_and_nack_batch_is_recorded(client):
    response = _post_events(client, _ack_nack_batch())

    assert response.status_code == 204
    (rejection,) = SnapshotRejection.objects.all()
    assert (rejection.node_id, rejection.node_cluster) == ("envoy-1", "edge")
    assert (rejection.type_url, rejection.version) == (type_urls.ROUTE, "v-bad")
    assert rejection.error == "route: invalid regex"
    assert rejection.at.timestamp() == 1_700_000_001.5

    statuses = {s.type_url: s for s in XdsNodeStatus.objects.filter(node_id="envoy-1")}
    assert statuses.keys() == {type_urls.CLUSTER, type_urls.ROUTE}
    acked = statuses[type_urls.CLUSTER]
    assert (acked.acked_version, acked.nacked_version, acked.last_error) == ("v-good", "", "")
    nacked = statuses[type_urls.ROUTE]
    assert nacked.acked_version == ""
    assert nacked.nacked_version == "v-bad"
    assert nacked.last_error == "route: invalid regex"
    assert all(s.node_cluster == "edge" for s in statuses.values())


def test_a_later_ack_keeps_one_status_row_per_node_and_type(client):
    _post_events(client, _ack_nack_batch())
    later_ack = {
        "events": [
            {
                "kind": "ack",
                "node_id": "envoy-1",
                "type_url": type_urls.ROUTE,
                "version": "v-fixed",
                "at": 1_700_000_100,
            }
        ]
    }

    assert _post_events(client, later_ack).status_code == 204

    status = XdsNodeStatus.objects.get(node_id="envoy-1", type_url=type_urls.ROUTE)
    assert status.acked_version == "v-fixed"
    assert status.nacked_version == "v-bad"
    assert XdsNodeStatus.objects.count() == 2
    assert SnapshotRejection.objects.count() == 1


def test_events_without_token_are_401_and_nothing_is_written(client):
    response = client.post(EVENTS_URL, json.dumps(_ack_nack_batch()), "application/json")
    _assert_problem(response, 401)
    assert not XdsNodeStatus.objects.exists()
    assert not SnapshotRejection.objects.exists()


def _valid_event(**overrides) -> dict:
    return {**_ack_nack_batch()["events"][1], **overrides}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("{not json", id="malformed-json"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param({"events": {"kind": "ack"}}, id="events-not-a-list"),
        pytest.param({"events": "ack"}, id="events-a-string"),
        pytest.param({}, id="no-events-key"),
        pytest.param([_ack_nack_batch()], id="top-level-list"),
        pytest.param({"events": [_valid_event(), _valid_event(kind="ping")]}, id="unknown-kind"),
        pytest.param({"events": [_valid_event(), "ack"]}, id="event-not-an-object"),
        pytest.param({"events": [_valid_event(), _valid_event(at=1e20)]}, id="absurd-at"),
        pytest.param({"events": [_valid_event(), _valid_event(at=-1e20)]}, id="absurd-negative-at"),
        pytest.param({"events": [_valid_event(), _valid_event(at="soon")]}, id="at-not-a-number"),
        pytest.param({"events": [_valid_event(), _valid_event(at="nan")]}, id="at-nan"),
        pytest.param({"events": [_valid_event(), _valid_event(at="inf")]}, id="at-inf"),
    ],
)
def test_bad_events_are_400_problem_and_nothing_is_written(client, payload):
    response = _post_events(client, payload)

    _assert_problem(response, 400)
    assert not XdsNodeStatus.objects.exists()
    assert not SnapshotRejection.objects.exists()


def test_too_many_events_are_400(client):
    payload = {"events": [_valid_event()] * 10_001}
    _assert_problem(_post_events(client, payload), 400)
    assert not SnapshotRejection.objects.exists()


def test_get_on_the_events_url_is_405(client):
    assert client.get(EVENTS_URL, **_auth()).status_code == 405


def test_an_event_with_a_nul_character_is_400_not_a_server_error(client):
    client.raise_request_exception = False
    payload = {"events": [_valid_event(node_id="envoy\u0000-1", error="bad\u0000")]}

    response = _post_events(client, payload)

    _assert_problem(response, 400)
    assert not SnapshotRejection.objects.exists()
