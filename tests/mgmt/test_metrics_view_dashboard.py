"""The Grafana dashboard (envoy/grafana/tollgate.json) imports anywhere and reads only
metrics that some Tollgate process exports."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "envoy" / "grafana" / "tollgate.json"
PACKAGES = ("extauthz", "xds_server", "ratelimit_svc", "accesslog", "mgmt")
# What prometheus_client appends to a family's name in the exposition.
SUFFIXES = re.compile(r"_(total|bucket|count|sum)$")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_the_prometheus_datasource_is_a_variable_every_query_uses(
    dashboard: dict[str, Any],
) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_every_tollgate_metric_on_the_dashboard_is_exported_by_some_process(
    dashboard: dict[str, Any],
) -> None:
    sources = "\n".join(
        path.read_text() for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    )
    wanted = {
        SUFFIXES.sub("", name)
        for query in _queries(dashboard)
        for name in re.findall(r"\btollgate_[a-z_]+\b(?![.*])", query)
    }
    assert wanted  # the dashboard reads Tollgate's metrics at all
    assert sorted(name for name in wanted if f'"{name}"' not in sources) == []


def test_it_reads_envoys_own_stats_too(dashboard: dict[str, Any]) -> None:
    queries = "\n".join(_queries(dashboard))
    for stat in (
        "envoy_http_downstream_rq_total",
        "envoy_cluster_upstream_rq_xx",
        "envoy_access_logs_grpc_access_log_logs_dropped",
    ):
        assert stat in queries
