"""NodeReports/Report over a real loopback server, with the sidecar's real client: a node
reports only as itself, with a sidecar credential, and hears "later" when mgmt is away."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.xds_server.helpers import ENVOY_TOKEN, SIDECAR_TOKEN, credential_store
from xds_server.cache import SnapshotCache
from xds_server.errors import SourceUnavailable
from xds_server.report_client import ConditionReporter
from xds_server.server import create_server, set_health

SINCE = 1_796_300_000.0


def _report(
    tmp_path: Path,
    *,
    token: str,
    node_id: str,
    name: str = "counters-unreachable",
    since: float = SINCE,
    mgmt_down: bool = False,
) -> tuple[grpc.StatusCode | None, list[dict[str, Any]]]:
    """Sends one report; (the error status or None, what reached mgmt)."""
    forwarded: list[dict[str, Any]] = []

    async def forward(event: dict[str, Any]) -> None:
        if mgmt_down:
            raise SourceUnavailable("mgmt unreachable: connection refused")
        forwarded.append(event)

    async def scenario() -> grpc.StatusCode | None:
        server, port, health = create_server(
            SnapshotCache(),
            address="127.0.0.1",
            port=0,
            credentials=credential_store(tmp_path / "c.json"),
            forward_conditions=forward,
        )
        await server.start()
        await set_health(health, serving=True)
        reporter = ConditionReporter(f"127.0.0.1:{port}", token=token, node_id=node_id)
        try:
            await reporter.report(name=name, active=True, since=since, detail="Redis down\x00!")
        except grpc.aio.AioRpcError as error:
            return error.code()
        finally:
            await reporter.close()
            await server.stop(0)
        return None

    return asyncio.run(scenario()), forwarded


def test_a_sidecar_reports_as_the_node_its_credential_proves(tmp_path: Path) -> None:
    status, forwarded = _report(tmp_path, token=SIDECAR_TOKEN, node_id="sidecar-1/extauthz-h-1")
    assert status is None
    assert forwarded == [
        {
            "node_id": "sidecar-1/extauthz-h-1",
            "name": "counters-unreachable",
            "active": True,
            "since": SINCE,
            "detail": "Redis down!",  # unprintable characters never reach the banner
        }
    ]


@pytest.mark.parametrize(
    ("token", "node_id", "expected"),
    [
        (SIDECAR_TOKEN, "envoy-1", grpc.StatusCode.PERMISSION_DENIED),  # another node
        (SIDECAR_TOKEN, "sidecar-10", grpc.StatusCode.PERMISSION_DENIED),  # a lookalike
        (ENVOY_TOKEN, "envoy-1", grpc.StatusCode.PERMISSION_DENIED),  # Envoy does not report
        (
            "tgx_unknown-token-000000000000000000000000000000",
            "sidecar-1",
            grpc.StatusCode.UNAUTHENTICATED,
        ),
    ],
)
def test_a_report_under_an_identity_not_proven_is_refused_and_never_forwarded(
    tmp_path: Path, token: str, node_id: str, expected: grpc.StatusCode
) -> None:
    status, forwarded = _report(tmp_path, token=token, node_id=node_id)
    assert status == expected
    assert forwarded == []


@pytest.mark.parametrize(("name", "since"), [("", SINCE), ("no spaces!", SINCE), ("x", 0.0)])
def test_a_malformed_report_is_invalid(tmp_path: Path, name: str, since: float) -> None:
    status, forwarded = _report(
        tmp_path, token=SIDECAR_TOKEN, node_id="sidecar-1", name=name, since=since
    )
    assert status == grpc.StatusCode.INVALID_ARGUMENT
    assert forwarded == []


def test_with_mgmt_away_the_node_hears_later_and_reports_again(tmp_path: Path) -> None:
    status, _ = _report(tmp_path, token=SIDECAR_TOKEN, node_id="sidecar-1", mgmt_down=True)
    assert status == grpc.StatusCode.UNAVAILABLE
