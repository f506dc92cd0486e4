"""Degraded states nodes report: recorded by episode, taken only with the internal token,
shown on every admin page until they clear, and marked when the node went silent."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from mgmt.gateway import node_conditions
from mgmt.gateway.models import NodeCondition

pytestmark = [pytest.mark.db, pytest.mark.django_db]

URL = "/internal/xds/conditions"
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _report(active: bool, since: datetime = T0, node: str = "extauthz-gw1/host-7"):
    return node_conditions.Reported(node, "counters-unreachable", active, since, "Redis down")


def _post(client, conditions, token: str | None = None):
    return client.post(
        URL,
        json.dumps({"conditions": conditions}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token or settings.TOLLGATE_INTERNAL_TOKEN}",
    )


def test_an_active_report_opens_a_condition_and_its_clearing_closes_it():
    node_conditions.record([_report(True)], now=T0)
    node_conditions.record([_report(True)], now=T0 + timedelta(seconds=30))  # repeated
    row = NodeCondition.objects.get()
    assert (row.active, row.since, row.reported_at) == (True, T0, T0 + timedelta(seconds=30))
    node_conditions.record([_report(False)], now=T0 + timedelta(seconds=40))
    row.refresh_from_db()
    assert (row.active, row.cleared_at) == (False, T0 + timedelta(seconds=40))


def test_a_late_clearing_of_an_earlier_outage_never_hides_a_newer_one():
    later = T0 + timedelta(minutes=5)
    node_conditions.record([_report(True, since=later)], now=later)
    node_conditions.record([_report(False, since=T0)], now=later + timedelta(seconds=1))
    assert NodeCondition.objects.get().active is True


def test_a_clearing_with_nothing_open_records_nothing():
    node_conditions.record([_report(False)], now=T0)
    assert not NodeCondition.objects.exists()


def test_the_endpoint_takes_conditions_with_the_internal_token_only(client):
    condition = {
        "node_id": "extauthz-gw1/host-7",
        "name": "counters-unreachable",
        "active": True,
        "since": T0.timestamp(),
        "detail": "Redis down",
    }
    assert _post(client, [condition], token="wrong-token-wrong-token").status_code == 401
    assert not NodeCondition.objects.exists()
    assert _post(client, [condition]).status_code == 204
    assert NodeCondition.objects.get().since == T0


@pytest.mark.parametrize(
    "bad",
    [
        {"node_id": "n", "name": "x", "active": "yes", "since": 1, "detail": ""},
        {"node_id": "", "name": "x", "active": True, "since": 1, "detail": ""},
        {"node_id": "n", "name": "x", "active": True, "since": "soon", "detail": ""},
        {"node_id": "n", "name": "x\x00", "active": True, "since": 1, "detail": ""},
        "not an object",
    ],
)
def test_bad_conditions_are_400_problems_and_record_nothing(client, bad):
    response = _post(client, [bad])
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert not NodeCondition.objects.exists()


def test_every_admin_page_shows_the_degraded_node_and_since_when(admin_client):
    node_conditions.record([_report(True)])
    for page in ("/admin/", "/admin/gateway/api/"):
        body = admin_client.get(page).content.decode()
        assert 'id="degraded-nodes"' in body, page
        assert "extauthz-gw1/host-7" in body
        assert "counters-unreachable since 2026-12-03 12:00:00" in body
    node_conditions.record([_report(False)])
    assert 'id="degraded-nodes"' not in admin_client.get("/admin/").content.decode()


def test_the_banner_never_reaches_the_portal_or_anonymous_visitors(client):
    node_conditions.record([_report(True)])
    assert "degraded-nodes" not in client.get("/admin/login/").content.decode()
    assert "extauthz-gw1" not in client.get("/portal/", follow=True).content.decode()


def test_a_node_that_stopped_reporting_is_marked_silent():
    node_conditions.record([_report(True)], now=T0)
    (fresh,) = node_conditions.banner(now=T0 + timedelta(seconds=60))
    (stale,) = node_conditions.banner(now=T0 + timedelta(seconds=91))
    assert (fresh.silent, stale.silent) == (False, True)
