"""The snapshot source and the event reporter against a stdlib stand-in for mgmt's endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.xds_server.helpers import make_snapshot
from xds_server import type_urls
from xds_server.cache import DEFAULT_GROUP, SnapshotCache, XdsEvent
from xds_server.reporter import EventReporter
from xds_server.source import FileSnapshotSource, MgmtSnapshotSource

TOKEN = "test-internal-token"


class FakeMgmt(ThreadingHTTPServer):
    """Serves /internal/xds/snapshot with ETag/304, holding a request that has the latest
    version and asks to `wait` until the next publish (unless `holds` is off), and takes
    /internal/xds/events."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.snapshot: bytes | None = None
        self.version = ""
        self.seen: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.events_status = 204
        self.holds = True
        self.held = 0  # requests being held right now
        self.published = threading.Condition()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def publish(self, version: str, **kwargs: Any) -> bytes:
        with self.published:
            self.snapshot = make_snapshot(version, **kwargs).to_bytes()
            self.version = version
            self.published.notify_all()
        return self.snapshot

    def hold(self, held_version: str, wait: float) -> None:
        with self.published:
            self.held += 1
            self.published.wait_for(lambda: self.version != held_version, wait)
            self.held -= 1


class _Handler(BaseHTTPRequestHandler):
    server: FakeMgmt

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return False
        return True

    def do_GET(self) -> None:
        self.server.seen.append(dict(self.headers))
        self.server.paths.append(self.path)
        if not self._authorized():
            return
        path, _, query = self.path.partition("?")
        wait = float(parse_qs(query).get("wait", ["0"])[0])
        held = self.headers.get("If-None-Match")
        if self.server.holds and wait and held == f'"{self.server.version}"':
            self.server.hold(self.server.version, wait)
        if path != "/internal/xds/snapshot" or self.server.snapshot is None:
            self.send_response(404)
            self.end_headers()
        elif self.headers.get("If-None-Match") == f'"{self.server.version}"':
            self.send_response(304)
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("ETag", f'"{self.server.version}"')
            self.send_header("Content-Length", str(len(self.server.snapshot)))
            self.end_headers()
            self.wfile.write(self.server.snapshot)

    def do_POST(self) -> None:
        if not self._authorized():
            return
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/internal/xds/events" and self.server.events_status == 204:
            self.server.events.extend(json.loads(body)["events"])
        self.send_response(self.server.events_status)
        self.end_headers()


@pytest.fixture
def mgmt() -> Iterator[FakeMgmt]:
    server = FakeMgmt()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _source(
    cache: SnapshotCache, url: str, state_dir: Path, long_poll: float = 0
) -> MgmtSnapshotSource:
    return MgmtSnapshotSource(
        cache, mgmt_url=url, token=TOKEN, state_dir=state_dir, timeout=2, long_poll=long_poll
    )


def _served_version(cache: SnapshotCache) -> str | None:
    snap = cache.get_snapshot(DEFAULT_GROUP)
    return snap.version if snap is not None else None


def test_new_snapshot_is_served_and_kept_atomically(mgmt: FakeMgmt, tmp_path: Path) -> None:
    cache = SnapshotCache()
    source = _source(cache, mgmt.url, tmp_path)
    published = mgmt.publish("v1")
    assert asyncio.run(source.poll_once()) is not None
    assert _served_version(cache) == "v1"
    assert (tmp_path / "snapshot.pb").read_bytes() == published
    assert os.listdir(tmp_path) == ["snapshot.pb"]  # no temporary file left behind

    assert asyncio.run(source.poll_once()) is None  # 304
    assert mgmt.seen[-1]["If-None-Match"] == '"v1"'
    assert mgmt.seen[-1]["Authorization"] == f"Bearer {TOKEN}"

    mgmt.publish("v2")
    asyncio.run(source.poll_once())
    assert _served_version(cache) == "v2"


def test_nothing_published_yet_serves_nothing(mgmt: FakeMgmt, tmp_path: Path) -> None:
    cache = SnapshotCache()
    assert asyncio.run(_source(cache, mgmt.url, tmp_path).poll_once()) is None
    assert cache.get_snapshot(DEFAULT_GROUP) is None
    assert not (tmp_path / "snapshot.pb").exists()


def test_inconsistent_snapshot_from_mgmt_is_skipped(mgmt: FakeMgmt, tmp_path: Path) -> None:
    cache = SnapshotCache()
    source = _source(cache, mgmt.url, tmp_path)
    good = mgmt.publish("v1")
    asyncio.run(source.poll_once())
    mgmt.publish("v2", route_targets=("orders", "gone"))
    assert asyncio.run(source.poll_once()) is None
    assert _served_version(cache) == "v1"
    assert (tmp_path / "snapshot.pb").read_bytes() == good


def test_restart_serves_the_kept_snapshot_while_mgmt_is_down(
    mgmt: FakeMgmt, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mgmt.publish("v1", type_versions={type_urls.ROUTE: "r1"})
    asyncio.run(_source(SnapshotCache(), mgmt.url, tmp_path).poll_once())
    mgmt.shutdown()
    mgmt.server_close()

    restarted = SnapshotCache()
    source = _source(restarted, mgmt.url, tmp_path)
    assert source.load_state() is not None
    snap = restarted.get_snapshot(DEFAULT_GROUP)
    assert snap is not None and snap.type_version(type_urls.ROUTE) == "r1"

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xds_server.source"):
        for _ in range(3):
            assert asyncio.run(source.poll_once()) is None
    # This logger's only: another test's leftover thread may log meanwhile.
    warnings = [
        r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "xds_server.source"
    ]
    assert len(warnings) == 1, "one log line per outage, not one per poll"
    assert "still serving snapshot 'v1'" in caplog.text
    assert _served_version(restarted) == "v1"


async def _until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


def test_a_long_poll_serves_a_publication_as_it_happens(mgmt: FakeMgmt, tmp_path: Path) -> None:
    cache = SnapshotCache()
    source = _source(cache, mgmt.url, tmp_path, long_poll=20)
    mgmt.publish("v1")

    async def scenario() -> float:
        running = asyncio.create_task(source.run())
        await _until(lambda: mgmt.held == 1, "held by mgmt")
        mgmt.publish("v2")
        took = await _until(lambda: _served_version(cache) == "v2", "v2 served")
        running.cancel()
        return took

    took = asyncio.run(scenario())
    print(f"\npublished -> served by the long poll: {took * 1000:.1f} ms")
    assert mgmt.paths[0] == "/internal/xds/snapshot"  # nothing held yet: no wait asked
    assert mgmt.paths[1] == "/internal/xds/snapshot?wait=20"
    assert mgmt.seen[1]["If-None-Match"] == '"v1"'


def test_answers_that_come_at_once_are_paced_to_the_poll_interval(
    mgmt: FakeMgmt, tmp_path: Path
) -> None:
    """An mgmt that does not hold requests (or answers errors) is not hammered."""
    mgmt.holds = False
    mgmt.publish("v1")
    source = MgmtSnapshotSource(
        SnapshotCache(), mgmt_url=mgmt.url, token=TOKEN, state_dir=tmp_path, poll_interval=0.2
    )

    async def one_second() -> None:
        running = asyncio.create_task(source.run())
        await asyncio.sleep(1.0)
        running.cancel()

    asyncio.run(one_second())
    assert 3 <= len(mgmt.paths) <= 7, mgmt.paths


def test_a_held_poll_does_not_hold_up_the_exit(mgmt: FakeMgmt, tmp_path: Path) -> None:
    """asyncio.run joins its executor's threads; the long poll's thread is left to die."""
    mgmt.publish("v1")
    source = _source(SnapshotCache(), mgmt.url, tmp_path, long_poll=20)

    async def cancelled_while_held() -> None:
        running = asyncio.create_task(source.run())
        await _until(lambda: mgmt.held == 1, "held by mgmt")
        running.cancel()

    started = time.monotonic()
    asyncio.run(cancelled_while_held())
    assert time.monotonic() - started < 10, "exit waited for the 20 s poll"


def test_missing_state_file_is_no_error(tmp_path: Path) -> None:
    source = _source(SnapshotCache(), _closed_port_url(), tmp_path)
    assert source.load_state() is None


def test_snapshot_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "bench.pb"
    path.write_bytes(make_snapshot("f1").to_bytes())
    cache = SnapshotCache()
    source = FileSnapshotSource(cache, path)
    assert source.load() is not None
    assert source.load() is None  # unchanged
    path.write_bytes(make_snapshot("f2").to_bytes())
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert source.load() is not None
    assert _served_version(cache) == "f2"


def _event(i: int) -> XdsEvent:
    return XdsEvent("nack", f"envoy-{i}", "edge", type_urls.CLUSTER, "v2", "bad", 1700000000.5)


def test_reporter_posts_batched_events(mgmt: FakeMgmt) -> None:
    reporter = EventReporter(mgmt_url=mgmt.url, token=TOKEN, batch_size=2)
    for i in range(3):
        reporter.submit(_event(i))
    assert asyncio.run(reporter.flush()) is True
    assert reporter.pending == 0
    assert mgmt.events[0] == {
        "kind": "nack",
        "node_id": "envoy-0",
        "node_cluster": "edge",
        "type_url": type_urls.CLUSTER,
        "version": "v2",
        "error": "bad",
        "at": 1700000000.5,
    }
    assert [e["node_id"] for e in mgmt.events] == ["envoy-0", "envoy-1", "envoy-2"]


def test_reporter_keeps_events_while_mgmt_refuses_them(mgmt: FakeMgmt) -> None:
    reporter = EventReporter(mgmt_url=mgmt.url, token=TOKEN)
    mgmt.events_status = 503
    reporter.submit(_event(0))
    assert asyncio.run(reporter.flush()) is False
    assert reporter.pending == 1
    mgmt.events_status = 204
    assert asyncio.run(reporter.flush()) is True
    assert [e["node_id"] for e in mgmt.events] == ["envoy-0"]


def test_reporter_drops_a_batch_mgmt_refuses_for_good_and_sends_the_rest(mgmt: FakeMgmt) -> None:
    reporter = EventReporter(mgmt_url=mgmt.url, token=TOKEN, batch_size=1)
    mgmt.events_status = 400
    reporter.submit(_event(0))
    assert asyncio.run(reporter.flush()) is True
    assert reporter.pending == 0  # not requeued: resending a 400 would loop forever
    mgmt.events_status = 204
    reporter.submit(_event(1))
    assert asyncio.run(reporter.flush()) is True
    assert [e["node_id"] for e in mgmt.events] == ["envoy-1"]


def test_reporter_buffer_drops_the_oldest_when_full(mgmt: FakeMgmt) -> None:
    reporter = EventReporter(mgmt_url=mgmt.url, token=TOKEN, max_buffer=3)
    for i in range(5):
        reporter.submit(_event(i))
    assert reporter.pending == 3
    assert asyncio.run(reporter.flush()) is True
    assert [e["node_id"] for e in mgmt.events] == ["envoy-2", "envoy-3", "envoy-4"]


def test_reporter_keeps_events_while_mgmt_is_unreachable() -> None:
    reporter = EventReporter(mgmt_url=_closed_port_url(), token=TOKEN)
    reporter.submit(_event(0))
    assert asyncio.run(reporter.flush()) is False
    assert reporter.pending == 1
