"""xds_server under hostile clients, with the real processes: it keeps serving the gateway.

Hostile ADS clients (with a valid Envoy credential, and with none) flood it with EDS
subscriptions of 2,000,000 names while a key is revoked in Django; the revocation reaches
the gateway within two seconds and xds_server stays small. Envoys presenting a wrong token,
or another role's, get no configuration at all.
"""

import os
import time
from pathlib import Path
from typing import Any

import pytest

from mgmt.embedded.processes import ProcessGroup
from mgmt.embedded.stack import StackPorts, start_envoy
from mgmt.embedded.xds_credentials import XdsCredential, ensure_credential
from mgmt.gateway import services
from mgmt.gateway.models import ApiKey
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.http import request
from tests.xds_server.flood import RssSampler, flood, rss_mb

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RSS_LIMIT_MB = 200


# xds_server is what the flood hits; how Envoy calls the sidecar plays no part: one transport.
@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_a_revoked_key_is_refused_within_two_seconds_while_xds_is_flooded(
    gateway: Gateway, scenario: Any, tmp_path: Path
) -> None:
    hostile = ensure_credential(gateway.xds_credentials, tmp_path, "hostile", "envoy")
    time.sleep(0.5)  # xds_server re-reads its credentials file every 0.2 s
    target = f"127.0.0.1:{gateway.ports.xds}"
    pid = gateway.xds.popen.pid
    before = rss_mb(pid)
    sampler = RssSampler(pid)
    with (
        flood(target, hostile.token(), "hostile") as authenticated,
        flood(target, None, "gateway-1") as anonymous,
    ):
        wait_until(lambda: len(authenticated) >= 8 and len(anonymous) >= 8, 30, "the flood runs")
        api_key = ApiKey.objects.get(key_id=scenario.demo_key[3:15])
        services.revoke_api_key(api_key=api_key)
        took = wait_until(
            lambda: (
                request(gateway.ports.gateway, "/demo/x", {"x-api-key": scenario.demo_key}).status
                == 401
            ),
            timeout=2.0,
            what="revoked key refused during the flood",
        )
        time.sleep(1.0)  # the flood goes on a while after the push
    sampler.stop()
    time.sleep(2.0)
    after = rss_mb(pid)
    print(
        f"\nrefused after {took:.3f}s under the flood; xds_server RSS MB before {before:.1f} "
        f"peak {sampler.peak:.1f} after {after:.1f}; hostile streams ended: "
        f"{len(authenticated)} authenticated {sorted(set(authenticated))}, "
        f"{len(anonymous)} anonymous {sorted(set(anonymous))}"
    )
    assert took < 2.0
    assert set(authenticated) == {"RESOURCE_EXHAUSTED"}
    assert set(anonymous) == {"UNAUTHENTICATED"}
    assert sampler.peak < RSS_LIMIT_MB
    assert after < before + 20
    assert gateway.xds.popen.poll() is None
    # Still serving: a new stream of the gateway's own Envoy node would be; the sidecar is.
    assert request(gateway.ports.gateway, "/demo/x", {"x-api-key": scenario.stranger_key}).status


def _stat(admin_port: int, name: str) -> int:
    body = request(admin_port, f"/stats?filter=^{name}$").body.decode()
    values = [int(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.strip()]
    assert values, f"no stat {name}"
    return values[0]


@pytest.mark.parametrize("gateway", ["http"], indirect=True)
@pytest.mark.parametrize("impostor", ["wrong-token", "sidecar-token"])
def test_an_envoy_without_a_valid_envoy_credential_gets_no_configuration(
    gateway: Gateway, scenario: Any, tmp_path: Path, impostor: str
) -> None:
    if impostor == "wrong-token":
        # Poses as gateway-1 itself, with a token that is not gateway-1's.
        token_file = tmp_path / "wrong.token"
        token_file.write_text("tgx_" + "w" * 43)
        credential = XdsCredential("gateway-1", token_file)
        expected = "unknown or revoked xDS credential"
    else:
        # The node's sidecar credential is valid, but not for Envoy's types.
        credential = gateway.node.sidecars
        expected = "may not read"
    ports = StackPorts.free(xds=gateway.ports.xds)
    group = ProcessGroup(log_dir=tmp_path / "logs")
    try:
        envoy = start_envoy(group, ports, tmp_path / "envoy", xds=credential)
        assert os.stat(tmp_path / "envoy" / f"envoy-{credential.name}.yaml").st_mode & 0o777 == (
            0o600
        )
        wait_until(lambda: expected in envoy.tail(200), 10, "Envoy logs the refusal")
        time.sleep(1.0)
        assert _stat(ports.envoy_admin, "cluster_manager.cds.update_success") == 0
        assert _stat(ports.envoy_admin, "listener_manager.lds.update_success") == 0
        assert request(ports.envoy_admin, "/listeners").body.strip() == b""
        # The real gateway-1, beside it, is configured and connected.
        assert _stat(gateway.ports.envoy_admin, "cluster_manager.cds.update_success") >= 1
        assert _stat(gateway.ports.envoy_admin, "control_plane.connected_state") == 1
        assert credential.token() not in envoy.tail(1000)
    finally:
        group.stop_all()
