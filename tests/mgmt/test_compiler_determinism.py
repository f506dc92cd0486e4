"""The same rows give the same version in every process: a Celery worker and the admin's
Django compile the same catalogue, and a difference would publish a snapshot that changes
nothing (and make every Envoy reload). Protobuf maps serialize in hash order unless told."""

import subprocess
import sys

import pytest

_COMPILE = """
import random
from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import GatewaySettings
from tests.mgmt.compiler_rows import random_rows
compiled = compile_snapshot(random_rows(random.Random(7)), GatewaySettings())
assert compiled.snapshot is not None, compiled.errors
print(compiled.snapshot.version)
"""


@pytest.mark.parametrize("seeds", [("1", "2", "3")])
def test_the_snapshot_version_does_not_depend_on_the_process_hash_seed(
    seeds: tuple[str, ...],
) -> None:
    versions = {
        subprocess.run(
            [sys.executable, "-c", _COMPILE],
            env={"PYTHONHASHSEED": seed, "PYTHONPATH": "."},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.strip()
        for seed in seeds
    }
    assert len(versions) == 1, versions
