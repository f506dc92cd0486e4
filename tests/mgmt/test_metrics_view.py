"""mgmt's /metrics: refused without its own bearer token, and with it, the control plane's
state read from the database, with no application, key or node in any label."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from mgmt.analytics.models import FoldBatch
from mgmt.gateway import publishing
from mgmt.gateway.models import (
    LifecycleNotice,
    NodeCondition,
    Snapshot,
    SnapshotRejection,
)
from tests.mgmt import factories
from xds_server import type_urls

pytestmark = [pytest.mark.db, pytest.mark.django_db]

URL = "/metrics"
TOKEN = "metrics-token-for-the-tests-0123456789"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def token(settings: Any) -> str:
    settings.TOLLGATE_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client) -> tuple[str, Samples]:
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_without_a_metrics_token_configured_there_is_no_metrics_endpoint(
    client: Client, settings: Any
) -> None:
    settings.TOLLGATE_METRICS_TOKEN = ""
    internal = f"Bearer {django_settings.TOLLGATE_INTERNAL_TOKEN}"

    assert client.get(URL).status_code == 404
    assert client.get(URL, HTTP_AUTHORIZATION=internal).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {'x' * len(TOKEN)}", TOKEN, "internal"],
    ids=["none", "wrong-token", "no-bearer-scheme", "the-internal-token"],
)
def test_metrics_need_their_own_bearer_token(
    client: Client, token: str, authorization: str | None
) -> None:
    if authorization == "internal":
        authorization = f"Bearer {django_settings.TOLLGATE_INTERNAL_TOKEN}"
    headers = {} if authorization is None else {"Authorization": authorization}

    response = client.get(URL, headers=headers)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"tollgate_" not in response.content


def test_with_the_token_the_control_planes_state_is_exported(client: Client, token: str) -> None:
    factories.catalog()
    live = publishing.publish_snapshot()
    assert live.status == Snapshot.Status.PUBLISHED
    now = datetime.now(UTC)
    cluster_version = live.type_versions[type_urls.CLUSTER]
    for type_url, version in ((type_urls.CLUSTER, cluster_version), (type_urls.CLUSTER, "old")):
        SnapshotRejection.objects.create(
            version=version, node_id="envoy-1", type_url=type_url, error="bad", at=now
        )
    for node, reported_at, active in (
        ("sidecar-1/extauthz-a-1", now, True),
        ("sidecar-1/extauthz-b-2", now - timedelta(minutes=5), True),
        ("sidecar-1/extauthz-c-3", now, False),
    ):
        NodeCondition.objects.create(
            node_id=node, name="counters-down", active=active, since=now, reported_at=reported_at
        )
    version = factories.api_version()
    for state in (LifecycleNotice.State.PENDING, LifecycleNotice.State.NO_RECIPIENT):
        LifecycleNotice.objects.create(
            api_version=version,
            application=factories.application(),
            kind=LifecycleNotice.Kind.RETIRED,
            sunset_at=now,
            state=state,
        )
    minute = now.replace(second=0, microsecond=0) - timedelta(minutes=5)
    FoldBatch.objects.create(batch_id="b-old", minute=minute - timedelta(minutes=1))
    FoldBatch.objects.create(batch_id="b-new", minute=minute, folded_at=now - timedelta(seconds=10))

    _, samples = scrape(client)

    assert value(samples, "tollgate_mgmt_snapshot_info", version=live.version) == 1
    assert value(samples, "tollgate_mgmt_snapshot_refused") == 0
    assert value(samples, "tollgate_mgmt_snapshot_published_timestamp_seconds") == (
        live.created_at.timestamp()
    )
    assert 0 <= value(samples, "tollgate_mgmt_snapshot_age_seconds") < 60
    assert value(samples, "tollgate_mgmt_snapshot_rejecting_nodes") == 1
    assert value(samples, "tollgate_mgmt_snapshot_rejections") == 2
    assert value(samples, "tollgate_mgmt_node_conditions", condition="counters-down") == 2
    assert value(samples, "tollgate_mgmt_node_conditions_silent", condition="counters-down") == 1
    notices = {
        dict(labels)["state"]: count
        for (name, labels), count in samples.items()
        if name == "tollgate_mgmt_lifecycle_notices"
    }
    assert notices == {state.value: 0 for state in LifecycleNotice.State} | {
        "pending": 1,
        "no_recipient": 1,
    }
    # The newest folded minute ended four minutes (and a few seconds of this test) ago.
    assert 240 <= value(samples, "tollgate_analytics_fold_lag_seconds") < 300
    assert value(samples, "tollgate_analytics_fold_last_timestamp_seconds") == pytest.approx(
        (now - timedelta(seconds=10)).timestamp()
    )


def test_a_refused_compilation_shows_while_the_last_good_version_stays_live(
    client: Client, token: str
) -> None:
    factories.catalog()
    live = publishing.publish_snapshot()
    Snapshot.objects.create(version="broken", status=Snapshot.Status.REFUSED, errors="no")

    _, samples = scrape(client)

    assert value(samples, "tollgate_mgmt_snapshot_refused") == 1
    versions = {dict(labels)["version"] for name, labels in samples if name.endswith("info")}
    assert versions == {live.version}


def test_an_empty_control_plane_exports_zeros_and_no_made_up_ages(
    client: Client, token: str
) -> None:
    _, samples = scrape(client)
    names = {name for name, _ in samples}

    assert value(samples, "tollgate_mgmt_snapshot_rejections") == 0
    assert value(samples, "tollgate_mgmt_lifecycle_notices", state="pending") == 0
    assert "tollgate_mgmt_snapshot_age_seconds" not in names
    assert "tollgate_analytics_fold_lag_seconds" not in names


def test_no_label_names_an_application_a_key_or_a_node(client: Client, token: str) -> None:
    factories.catalog()
    publishing.publish_snapshot()
    now = datetime.now(UTC)
    application = factories.application(public_id="app_metrics_probe")
    LifecycleNotice.objects.create(
        api_version=factories.api_version(),
        application=application,
        kind=LifecycleNotice.Kind.RETIRED,
        sunset_at=now,
    )
    NodeCondition.objects.create(
        node_id="probe-node/extauthz-h-9",
        name="counters-down",
        active=True,
        since=now,
        reported_at=now,
    )
    SnapshotRejection.objects.create(
        version="v", node_id="probe-node", type_url=type_urls.CLUSTER, error="e", at=now
    )

    text, samples = scrape(client)

    labels = {v for _, pairs in samples for _, v in pairs}
    named = {"app_metrics_probe", str(application.pk), application.name, "probe-node"}
    assert not named & labels
    assert "app_metrics_probe" not in text
    assert "probe-node" not in text
