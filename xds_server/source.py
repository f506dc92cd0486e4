"""Where snapshots come from: mgmt's /internal/xds/snapshot (long-polled), or a fixed file.

Holding the version it serves, xds_server asks mgmt to answer only once a newer snapshot is
published (`wait=N`), so a change reaches Envoy as soon as it is committed; an answer that
comes at once (mgmt down, or one that does not hold requests) paces the loop to one request
per poll interval.

The last good snapshot from mgmt is kept in `{state_dir}/snapshot.pb`, so a restarted
xds_server serves it even while mgmt is down: management decides, the gateway acts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from xds_server.cache import DEFAULT_GROUP, SnapshotCache
from xds_server.errors import InconsistentSnapshot, InvalidSnapshot, SourceUnavailable
from xds_server.snapshot import Snapshot
from xds_server.tls_secrets import open_secrets

SNAPSHOT_PATH = "/internal/xds/snapshot"
STATE_FILE = "snapshot.pb"

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class _Fetched:
    status: int  # 200, 304 or 404
    body: bytes


def _get(url: str, headers: dict[str, str], timeout: float) -> _Fetched:
    """One blocking GET (run it in a thread); non-snapshot answers become SourceUnavailable."""
    request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310 (http(s) checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            return _Fetched(resp.status, resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code in (304, 404):
            return _Fetched(exc.code, b"")
        raise SourceUnavailable(f"mgmt answered HTTP {exc.code}") from exc
    except (OSError, TimeoutError) as exc:
        raise SourceUnavailable(f"mgmt unreachable: {exc}") from exc


async def in_daemon_thread(work: Callable[[], T]) -> T:
    """Like asyncio.to_thread, but the thread never holds up the process's exit: a long poll
    can sit in it for its whole wait, and asyncio.run joins its executor's threads."""
    done: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        done.set_running_or_notify_cancel()
        try:
            done.set_result(work())
        except BaseException as exc:  # handed to the awaiting coroutine
            done.set_exception(exc)

    threading.Thread(target=run, name="snapshot-poll", daemon=True).start()
    return await asyncio.wrap_future(done)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class MgmtSnapshotSource:
    """Polls mgmt for the published snapshot and sets it on the cache for one group."""

    def __init__(
        self,
        cache: SnapshotCache,
        *,
        mgmt_url: str,
        token: str,
        state_dir: Path,
        poll_interval: float = 0.2,
        long_poll: float = 25.0,
        group: str = DEFAULT_GROUP,
        timeout: float = 5.0,
        sealing_key: bytes | None = None,
    ) -> None:
        if not mgmt_url.startswith(("http://", "https://")):
            raise ValueError(f"mgmt URL must be http(s): {mgmt_url!r}")
        self._cache = cache
        self._url = mgmt_url.rstrip("/") + SNAPSHOT_PATH
        self._token = token
        self.state_file = state_dir / STATE_FILE
        self._interval = poll_interval
        self._long_poll = long_poll
        self._group = group
        self._timeout = timeout
        self._sealing_key = sealing_key
        self.current: Snapshot | None = None
        self._outage: str | None = None  # the reason mgmt is down, while it is
        self._refused: str | None = None  # last inconsistent version, logged once
        self._told_unpublished = False

    def load_state(self) -> Snapshot | None:
        """Serve the snapshot kept from the last run, if there is a good one."""
        try:
            data = self.state_file.read_bytes()
        except FileNotFoundError:
            return None
        snap = serve_file_bytes(
            self._cache, self._group, data, self.state_file, sealing_key=self._sealing_key
        )
        if snap is not None:
            self.current = snap
        return snap

    async def poll_once(self) -> Snapshot | None:
        """Ask mgmt once; returns the snapshot if a new one was set on the cache."""
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/x-protobuf"}
        url, timeout = self._url, self._timeout
        if self.current is not None:
            headers["If-None-Match"] = f'"{self.current.version}"'
            if self._long_poll > 0:
                url, timeout = f"{url}?wait={self._long_poll:g}", timeout + self._long_poll
        try:
            fetched = await in_daemon_thread(lambda: _get(url, headers, timeout))
        except SourceUnavailable as exc:
            if self._outage is None:
                held = f"snapshot {self.current.version!r}" if self.current else "no snapshot"
                log.warning("%s; still serving %s", exc, held)
            self._outage = str(exc)
            return None
        if self._outage is not None:
            log.info("mgmt reachable again")
            self._outage = None
        if fetched.status == 404:
            if not self._told_unpublished:
                log.info("mgmt has not published a snapshot yet")
                self._told_unpublished = True
            return None
        if fetched.status != 200:
            return None
        return await self._apply(fetched.body)

    async def run(self) -> None:
        """Poll until cancelled: at once after a held answer, else one poll per interval."""
        while True:
            started = time.monotonic()
            try:
                await self.poll_once()
            except Exception:
                log.exception("snapshot poll failed; will try again")
            await asyncio.sleep(max(0.0, self._interval - (time.monotonic() - started)))

    async def _apply(self, body: bytes) -> Snapshot | None:
        try:
            snap = open_secrets(Snapshot.from_bytes(body), self._sealing_key)
        except InvalidSnapshot as exc:
            log.error("mgmt sent an unreadable snapshot: %s", exc)
            return None
        if self.current is not None and snap.version == self.current.version:
            return None
        try:
            self._cache.set_snapshot(self._group, snap)  # checks consistency, once
        except InconsistentSnapshot as exc:
            if snap.version != self._refused:
                log.error("not serving it: %s", exc)
                self._refused = snap.version
            return None
        self.current = snap
        log.info("serving snapshot %r", snap.version)
        try:
            await asyncio.to_thread(write_atomic, self.state_file, body)
        except OSError as exc:
            log.warning("could not keep snapshot in %s: %s", self.state_file, exc)
        return snap


def serve_file_bytes(
    cache: SnapshotCache, group: str, data: bytes, path: Path, *, sealing_key: bytes | None = None
) -> Snapshot | None:
    """Set the snapshot read from `path` on the cache; None (logged) if it cannot be served.
    The file keeps private keys sealed; they are opened here, in memory."""
    try:
        snap = open_secrets(Snapshot.from_bytes(data), sealing_key)
        cache.set_snapshot(group, snap)
    except InvalidSnapshot as exc:
        log.error("not serving the snapshot in %s: %s", path, exc)
        return None
    log.info("serving snapshot %r from %s", snap.version, path)
    return snap


class FileSnapshotSource:
    """Serves a fixed snapshot file, re-read when it changes (benchmarks run without mgmt)."""

    def __init__(
        self,
        cache: SnapshotCache,
        path: Path,
        *,
        poll_interval: float = 0.2,
        group: str = DEFAULT_GROUP,
        sealing_key: bytes | None = None,
    ) -> None:
        self._cache = cache
        self._sealing_key = sealing_key
        self.path = path
        self._interval = poll_interval
        self._group = group
        self._stamp: tuple[int, int] | None = None
        self._missing_logged = False
        self.current: Snapshot | None = None

    def load(self) -> Snapshot | None:
        """Read the file if it changed since the last call; returns the snapshot set, if any."""
        data = self._read_if_changed()
        return self._apply(data) if data is not None else None

    async def run(self) -> None:
        """Re-read the file whenever it changes, until cancelled."""
        while True:
            # Read in a thread, but set on the cache from the event loop's thread.
            data = await asyncio.to_thread(self._read_if_changed)
            if data is not None:
                self._apply(data)
            await asyncio.sleep(self._interval)

    def _read_if_changed(self) -> bytes | None:
        try:
            st = self.path.stat()
            if (st.st_mtime_ns, st.st_size) == self._stamp:
                return None
            data = self.path.read_bytes()
        except FileNotFoundError:
            if not self._missing_logged:
                log.warning("snapshot file %s does not exist (yet)", self.path)
                self._missing_logged = True
            return None
        self._stamp = (st.st_mtime_ns, st.st_size)
        self._missing_logged = False
        return data

    def _apply(self, data: bytes) -> Snapshot | None:
        snap = serve_file_bytes(
            self._cache, self._group, data, self.path, sealing_key=self._sealing_key
        )
        if snap is not None:
            self.current = snap
        return snap
