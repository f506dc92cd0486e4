"""Redis for the tests: a database of the machine's Redis that one suite owns, or a
redis-server of a test's own that it may kill and restart."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from mgmt.embedded.processes import Child, ProcessGroup
from mgmt.embedded.stack import start_redis


def database_url(machine_redis: str, db: int) -> str:
    """The URL of database `db` on the server `machine_redis` names."""
    return machine_redis.rsplit("/", 1)[0] + f"/{db}"


@contextmanager
def flushed(url: str) -> Iterator["redis.Redis"]:
    """A client of the database at `url`, emptied before and after: for a database that
    one suite owns alone."""
    client: redis.Redis = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@dataclass
class OwnRedis:
    """A redis-server of this test's own on a free port: the one a test may kill (SIGKILL,
    no chance to flush anything) and start again on the same data directory."""

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
