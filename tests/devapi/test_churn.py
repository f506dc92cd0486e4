"""Acceptance: partners creating and deleting applications in a loop (the finding: 91
pairs in 12 s made 182 full snapshots, kept forever) now make a bounded number of
snapshots, retention bounds the rows, and the last snapshot holds the last commit.

The bounds, with the production settings: each partner's application writes are capped
by its budgets (TOLLGATE_THROTTLE_APPLICATION_CREATION and _DELETION, 30/hour each), so
at most 60 snapshots an hour from one partner; and however many partners write, one
process starts at most one publication per TOLLGATE_PUBLISH_GAP_MS (250 ms) after the
leading one. Retention then keeps TOLLGATE_KEEP_PUBLISHED_SNAPSHOTS published snapshots
(plus any a node still runs: none here)."""

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.settings import api_settings

from mgmt.compiler.compile import compile_snapshot
from mgmt.gateway import selectors
from mgmt.gateway.models import Application, Snapshot
from mgmt.gateway.tasks import run_retention
from tests.devapi.world import World, build_world, token_client, verified_user

pytestmark = [pytest.mark.db, pytest.mark.django_db(transaction=True)]

PAIRS = 91  # as in the finding
# Within every budget, so each partner's writes all land; enough to overlap for seconds.
PAIRS_AT_ONCE = 15


def _budget(scope: str) -> int:
    return int(api_settings.DEFAULT_THROTTLE_RATES[scope].split("/")[0])


def _compiled_version() -> str:
    compiled = compile_snapshot(
        selectors.current_rows(), selectors.gateway_settings(), int(time.time())
    )
    assert compiled.snapshot is not None
    return compiled.snapshot.version


def _live_version() -> str:
    return Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).latest().version


@pytest.fixture
def world(settings: Any) -> World:
    settings.TOLLGATE_PUBLISH_GAP_MS = 0  # thirty setup commits, published one by one
    built = build_world()
    settings.TOLLGATE_PUBLISH_GAP_MS = 250  # the production default, for the churn
    return built


def test_one_partner_churning_applications_makes_a_bounded_number_of_snapshots(
    world: World, settings: Any
):
    # One writer at a time: its budgets bound it, whatever the gap (the next test covers
    # the gap); without one, the loop runs in a few seconds instead of sixty gaps.
    settings.TOLLGATE_PUBLISH_GAP_MS = 0
    apps = f"/api/v1/orgs/{world.alice.org}/applications"
    client = world.alice.client
    snapshots_before = Snapshot.objects.count()
    statuses: list[int] = []

    for n in range(PAIRS):
        created = client.post(apps, {"name": f"churn {n}"}, format="json")
        statuses.append(created.status_code)
        if created.status_code == 201:
            statuses.append(client.delete(f"{apps}/{created.json()['public_id']}").status_code)

    writes = statuses.count(201) + statuses.count(204)
    bound = _budget("application_creation") + _budget("application_deletion")
    made = Snapshot.objects.count() - snapshots_before
    assert statuses.count(201) == _budget("application_creation")
    assert statuses.count(429) == PAIRS - _budget("application_creation")
    assert made <= writes <= bound  # 60, not 182
    assert _live_version() == _compiled_version()  # the last snapshot holds the last write
    assert not Application.objects.filter(name__startswith="churn").exists()

    report = run_retention()

    assert Snapshot.objects.count() <= settings.TOLLGATE_KEEP_PUBLISHED_SNAPSHOTS
    assert report["snapshots"] == snapshots_before + made - Snapshot.objects.count()
    assert _live_version() == _compiled_version()
    assert run_retention()["snapshots"] == 0


def _churn_over_http(base: str, token: str, org: str, results: list[int]) -> None:
    def call(method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            base + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                raw = reply.read()
                return reply.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, None

    apps = f"/api/v1/orgs/{org}/applications"
    for n in range(PAIRS_AT_ONCE):
        status, body = call("POST", apps, {"name": f"churn {n}"})
        results.append(status)
        if status == 201:
            results.append(call("DELETE", f"{apps}/{body['public_id']}")[0])


def test_partners_churning_at_once_over_http_share_snapshots(world: World, live_server):
    partners = []
    for n in range(3):
        user, organization = verified_user(f"churner{n}@example.com", f"Churner {n}")
        token = token_client(user)._credentials["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
        partners.append((token, organization.slug))
    snapshots_before = Snapshot.objects.count()
    results: list[list[int]] = [[] for _ in partners]
    started = time.monotonic()

    threads = [
        threading.Thread(target=_churn_over_http, args=(live_server.url, token, org, out))
        for (token, org), out in zip(partners, results, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    elapsed = time.monotonic() - started
    connection.close()  # the live server's threads shared nothing with ours, but be sure

    writes = sum(r.count(201) + r.count(204) for r in results)
    made = Snapshot.objects.count() - snapshots_before
    gap = settings.TOLLGATE_PUBLISH_GAP_MS / 1000
    assert _budget("application_creation") >= PAIRS_AT_ONCE
    assert writes == 3 * 2 * PAIRS_AT_ONCE
    assert made <= 1 + elapsed / gap  # one publication per gap at most
    assert made < writes  # commits close together shared snapshots
    assert _live_version() == _compiled_version()
