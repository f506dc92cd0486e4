"""A write that changes the gateways' configuration answers the snapshot version that holds
it, and with `Prefer: wait=N` waits, N seconds at most, until the connected gateways have
acknowledged it (ACK events posted through the real internal endpoint)."""

import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from mgmt.gateway.config_rollout import rollout_of
from mgmt.gateway.models import ApiKey, Snapshot
from tests.devapi.world import World, build_world

# Publication runs after commits: these tests commit for real.
pytestmark = [pytest.mark.db, pytest.mark.django_db(transaction=True)]

NODE = "gateway-1"


@pytest.fixture
def world(settings: Any) -> World:
    # Building the world is thirty commits; spacing their publications would only be slow.
    settings.TOLLGATE_PUBLISH_GAP_MS = 0
    return build_world()


def _live() -> Snapshot:
    return Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).latest()


def _report_acks(node: str, snapshot: Snapshot, types: list[str] | None = None) -> None:
    """What xds_server posts when `node` accepts the snapshot's versions."""
    events = [
        {"kind": "ack", "node_id": node, "type_url": t, "version": v, "at": time.time()}
        for t, v in snapshot.type_versions.items()
        if types is None or t in types
    ]
    reply = Client().post(
        "/internal/xds/events",
        json.dumps({"events": events}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {settings.TOLLGATE_INTERNAL_TOKEN}",
    )
    assert reply.status_code == 204


def test_a_write_answers_the_version_of_the_snapshot_that_holds_it(world: World):
    reply = world.alice.client.post(f"{world.alice.app}/keys", {"label": "ci"}, format="json")

    assert reply.status_code == 201
    live = _live()
    assert reply["Tollgate-Config-Version"] == live.version
    key = ApiKey.objects.get(key_id=reply.json()["key_id"])
    assert key.key_id.encode() in bytes(live.payload)
    assert "Preference-Applied" not in reply  # nobody asked to wait


def test_reads_and_refused_writes_carry_no_version(world: World):
    assert "Tollgate-Config-Version" not in world.alice.client.get(f"{world.alice.app}/keys")
    refused = world.alice.client.post(f"{world.bob.app}/keys", {}, format="json")
    assert refused.status_code == 404
    assert "Tollgate-Config-Version" not in refused


def test_with_no_gateway_connected_a_waiting_write_is_live_at_once(world: World):
    started = time.monotonic()
    reply = world.alice.client.post(
        f"{world.alice.app}/keys", {}, format="json", HTTP_PREFER="wait=5"
    )

    assert reply.status_code == 201
    assert reply["Preference-Applied"] == "wait=5"
    assert reply["Tollgate-Config-Live"] == "true"
    assert "Tollgate-Config-Pending" not in reply
    assert time.monotonic() - started < 4


def test_the_wait_is_bounded_and_names_the_gateways_that_have_not_acknowledged(world: World):
    _report_acks(NODE, _live())  # connected and up to date
    # Another node last acknowledged a snapshot from an hour before the one before this.
    Snapshot.objects.exclude(pk=_live().pk).update(created_at=timezone.now() - timedelta(hours=1))
    _report_acks("gateway-gone", Snapshot.objects.filter(status="published").earliest())

    started = time.monotonic()
    reply = world.alice.client.post(
        f"{world.alice.app}/keys", {}, format="json", HTTP_PREFER="wait=1"
    )
    waited = time.monotonic() - started

    assert reply.status_code == 201
    assert reply["Preference-Applied"] == "wait=1"
    assert reply["Tollgate-Config-Live"] == "false"
    # Only the node that was up to date is waited for; the one on an old version has gone.
    assert reply["Tollgate-Config-Pending"] == NODE
    assert 1.0 <= waited < 3.0


def test_the_wait_ends_when_the_connected_gateway_acknowledges(world: World):
    _report_acks(NODE, _live())
    before = _live().pk
    acked = threading.Event()

    def gateway() -> None:  # xds_server's part: it sees the new snapshot and reports the ACK
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                newer = Snapshot.objects.filter(status="published", pk__gt=before).first()
                if newer is not None:
                    time.sleep(0.2)
                    _report_acks(NODE, newer)
                    acked.set()
                    return
                time.sleep(0.02)
        finally:
            connection.close()

    thread = threading.Thread(target=gateway)
    thread.start()
    started = time.monotonic()
    reply = world.alice.client.post(
        f"{world.alice.app}/keys", {}, format="json", HTTP_PREFER="wait=8"
    )
    waited = time.monotonic() - started
    thread.join(10)

    assert acked.is_set()
    assert reply.status_code == 201
    assert reply["Tollgate-Config-Live"] == "true"
    assert "Tollgate-Config-Pending" not in reply
    assert waited < 6  # well before the 8 s asked for


def test_a_gateway_that_acknowledges_only_some_changed_types_is_still_pending(world: World):
    _report_acks(NODE, _live())
    before = _live()

    reply = world.alice.client.post(
        f"{world.alice.app}/keys", {}, format="json", HTTP_PREFER="wait=0"
    )
    changed = [t for t, v in _live().type_versions.items() if before.type_versions.get(t) != v]
    assert changed
    _report_acks(NODE, _live(), types=changed[:-1])
    again = world.alice.client.get(f"{world.alice.app}/keys")

    assert reply["Tollgate-Config-Live"] == "false"
    assert reply["Tollgate-Config-Pending"] == NODE
    assert again.status_code == 200
    assert rollout_of(_live()).pending == {NODE}
    _report_acks(NODE, _live(), types=changed[-1:])
    assert rollout_of(_live()).live
