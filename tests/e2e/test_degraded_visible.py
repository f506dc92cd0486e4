"""Counting degraded is visible, not silent: with Redis down the sidecar's gauge says so, and
admin's banner names the node and since when (reported through xds_server), until it clears."""

import urllib.request

import pytest

from mgmt.gateway.models import NodeCondition
from tests.e2e.conftest import wait_until
from tests.e2e.test_rate_limits import call, metered_plan, subscribe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return str(reply.read().decode())


def _banner(admin_client) -> str:  # type: ignore[no-untyped-def]
    return str(admin_client.get("/admin/").content.decode())


def test_redis_down_shows_in_admin_naming_the_node_until_it_returns(
    gateway, scenario, admin_client
):
    subscriber = subscribe(metered_plan(1_000), "Client while degraded")
    wait_until(lambda: call(gateway, subscriber.key).status == 200, 5, "subscriber admitted")
    assert "tollgate_counters_unreachable 0.0" in _metrics(gateway.ports.extauthz_metrics)
    assert 'id="degraded-nodes"' not in _banner(admin_client)

    gateway.kill_redis()
    try:
        # Fail-open: still admitted, counted on this node alone.
        assert [call(gateway, subscriber.key).status for _ in range(5)] == [200] * 5
        assert "tollgate_counters_unreachable 1.0" in _metrics(gateway.ports.extauthz_metrics)
        wait_until(
            lambda: NodeCondition.objects.filter(active=True).exists(),
            timeout=5,
            what="the sidecar reported its counters unreachable",
        )
        condition = NodeCondition.objects.get(active=True)
        # Under the identity its credential proves: this gateway's sidecars.
        assert condition.node_id.startswith(f"{gateway.node.sidecars.name}/extauthz-")
        assert condition.name == "counters-unreachable"
        banner = _banner(admin_client)
        assert 'id="degraded-nodes"' in banner
        assert condition.node_id in banner
        assert "counters-unreachable since" in banner
    finally:
        gateway.restart_redis()

    wait_until(
        lambda: not NodeCondition.objects.filter(active=True).exists(),
        timeout=10,
        what="the recovery reached admin",
    )
    assert 'id="degraded-nodes"' not in _banner(admin_client)
    assert "tollgate_counters_unreachable 0.0" in _metrics(gateway.ports.extauthz_metrics)
