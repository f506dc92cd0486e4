"""Redis for the rate-limit tests: the machine's (shared, keys isolated per test) or our own."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mgmt.embedded.processes import Child, ProcessGroup, free_port
from mgmt.embedded.stack import start_redis


@pytest.fixture
def unique() -> int:
    """A subscription id no other test (or earlier run) has counted against."""
    return uuid.uuid4().int % 10**15


@dataclass
class OwnRedis:
    """A Redis of this test's own on a free port: the one a test may kill and restart."""

    group: ProcessGroup
    port: int
    data_dir: Path
    child: Child | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.child = start_redis(self.group, self.port, self.data_dir)

    def kill(self) -> None:
        assert self.child is not None
        self.child.popen.kill()
        self.child.popen.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    group = ProcessGroup(log_dir=tmp_path / "logs")
    server = OwnRedis(group, free_port(), tmp_path / "redis")
    try:
        yield server
    finally:
        group.stop_all()
