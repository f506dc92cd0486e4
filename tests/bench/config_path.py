"""The config-path targets: compiling 100,000 keys, a catalog change reaching Envoy, sidecar RSS,
and ext_authz holding 1,000,000 keys (measured in a process of its own)."""

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import ApiRow, ApiVersionRow, GatewaySettings, RouteRow, Rows
from tests.bench.pipeline import bench_rows
from tests.bench.setups import wait_200


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_compile(keys: int) -> float:
    rows, _ = bench_rows(9, extra_keys=keys)
    start = time.perf_counter()
    compiled = compile_snapshot(rows, GatewaySettings())
    took = time.perf_counter() - start
    assert compiled.ok, compiled.errors
    return took


def with_extra_api(rows: Rows, n: int) -> Rows:
    """The bench catalog plus API number n at /extra<n>, on the same product and upstream."""
    api_id = 100 + n
    return dataclasses.replace(
        rows,
        apis=(*rows.apis, ApiRow(api_id, f"extra{n}", f"Extra {n}", 1, 1, base_path=f"/extra{n}")),
        versions=(*rows.versions, ApiVersionRow(api_id, api_id, "v1")),
        routes=(*rows.routes, RouteRow(api_id, api_id, 1)),
    )


def measure_config_changes(
    rows: Rows, settings: GatewaySettings, snapshot_file: Path, secret: str, rounds: int = 5
) -> list[float]:
    """Milliseconds from publishing a snapshot with a new API to that API answering 200."""
    took = []
    for n in range(1, rounds + 1):
        compiled = compile_snapshot(with_extra_api(rows, n), settings)
        assert compiled.snapshot is not None, compiled.errors
        tmp = snapshot_file.with_suffix(".tmp")
        tmp.write_bytes(compiled.snapshot.SerializeToString())
        start = time.perf_counter()
        tmp.replace(snapshot_file)
        url = f"http://127.0.0.1:{settings.listen_port}/extra{n}/x"
        wait_200(url, {"x-api-key": secret}, poll=0.005)
        took.append((time.perf_counter() - start) * 1000)
    return took


def measure_store_memory(keys: int) -> str:
    memory = subprocess.run(
        [sys.executable, "-m", "tests.extauthz.measure_memory", "--keys", str(keys)],
        capture_output=True,
        text=True,
        check=False,
    )
    return memory.stdout.strip() or memory.stderr.strip()[-300:]
