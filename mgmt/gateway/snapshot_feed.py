"""Wakes the long-polled snapshot endpoint the moment a snapshot is published.

xds_server asks with the version it serves and `wait=N`; the endpoint holds the request until
a newer snapshot is published or N seconds pass, so a change reaches the gateway in
milliseconds instead of after the next poll.

A publication announces itself twice. In its own process, after its commit: that is enough
for the embedded SQLite mode's single Django. On PostgreSQL, also by NOTIFY, delivered on
commit; one listener thread per process turns it into the same wake-up, so a publication by
a Celery worker or another web worker wakes every waiting request.

Waiters still re-read the database every few seconds, more often while no listener is
connected: a notification lost while the listener reconnects delays a change, it never
loses it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
from django.db import connection, transaction

log = logging.getLogger(__name__)

CHANNEL = "tollgate_snapshot"
# The listener's connection, as pg_stat_activity names it.
APPLICATION_NAME = "tollgate snapshot feed"
# How long a waiter sleeps between reads of the database, with and without a listener.
RECHECK_LISTENING = 5.0
RECHECK_UNHEARD = 0.5
_LISTENER_PARAMS: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 5,
    "application_name": APPLICATION_NAME,
}
# The listener's pause before reconnecting after its connection failed.
_RECONNECT_AFTER = 1.0


class PublicationFeed:
    """A generation counter: each announcement increments it and wakes every waiter."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0
        self.waiting = 0  # requests held right now
        self.closed = False  # the process is shutting down: nobody waits any more

    def generation(self) -> int:
        with self._changed:
            return self._generation

    def announce(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait_past(self, generation: int, timeout: float) -> bool:
        """Blocks until an announcement after `generation` or for `timeout` seconds; True if
        one came."""
        with self._changed:
            self.waiting += 1
            try:
                return self._changed.wait_for(
                    lambda: self._generation != generation or self.closed, timeout
                )
            finally:
                self.waiting -= 1

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()


class _Listener(threading.Thread):
    """LISTENs on its own autocommit connection and announces every notification."""

    def __init__(self, feed: PublicationFeed, params: dict[str, Any]) -> None:
        super().__init__(name="snapshot-feed-listener", daemon=True)
        self._feed = feed
        self._params = params
        self._stopping = threading.Event()
        self.listening = threading.Event()

    def run(self) -> None:
        told = False
        while not self._stopping.is_set():
            try:
                with psycopg.connect(**self._params, **_LISTENER_PARAMS) as conn:
                    self._listen(conn)
                told = False
            except Exception as exc:  # any failure: reconnect; waiters poll meanwhile
                if not told and not self._stopping.is_set():
                    log.warning("snapshot notifications unheard (%s); waiters poll", exc)
                    told = True
            finally:
                self.listening.clear()
            self._stopping.wait(_RECONNECT_AFTER)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"LISTEN {CHANNEL}")
        # Anything published while no one listened: the waiters read the database again.
        self._feed.announce()
        self.listening.set()
        while not self._stopping.is_set():
            for _ in conn.notifies(timeout=1.0):
                self._feed.announce()

    def stop(self) -> None:
        """Ends the thread within a second; its connection closes with it."""
        self._stopping.set()
        self.join(timeout=5)


feed = PublicationFeed()


class _ProcessListener:
    """This process's one listener, started on first use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: _Listener | None = None


_process = _ProcessListener()


def announce_on_commit() -> None:
    """Called inside a transaction that publishes a snapshot: waiters wake once it commits."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])
    transaction.on_commit(feed.announce)


def _connect_params() -> dict[str, Any]:
    """What Django connects with, without its adapters (the listener reads no rows)."""
    params = connection.get_connection_params()
    for dropped in ("cursor_factory", "context", *_LISTENER_PARAMS):
        params.pop(dropped, None)
    return params


def recheck_seconds() -> float:
    """Starts this process's listener on first use (PostgreSQL only); how long a waiter may
    sleep before reading the database again."""
    if connection.vendor != "postgresql" or feed.closed:
        return RECHECK_UNHEARD
    with _process.lock:
        if _process.thread is None:
            _process.thread = _Listener(feed, _connect_params())
            _process.thread.start()
        listening = _process.thread.listening.is_set()
    return RECHECK_LISTENING if listening else RECHECK_UNHEARD


def shut_down() -> None:
    """Answers every held request now and closes the listener's connection, for good: the
    process is stopping (tests drop their database after this)."""
    feed.close()
    with _process.lock:
        listener, _process.thread = _process.thread, None
    if listener is not None:
        listener.stop()


def wait_for_change(generation: int, timeout: float) -> None:
    """Sleeps until an announcement after `generation`, `timeout` seconds or the next recheck,
    holding no database connection meanwhile (unless inside a transaction)."""
    slice_ = min(timeout, recheck_seconds())
    if not connection.in_atomic_block:
        connection.close()
    feed.wait_past(generation, slice_)
