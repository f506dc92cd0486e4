"""Compiles the current rows and publishes the snapshot after committed transactions.

Publishers take turns (an advisory lock on PostgreSQL, across processes; a process lock
for the embedded SQLite mode's single Django) and read the rows only once it is their
turn: whichever commit comes last, its publication reads the newest rows and inserts
the newest snapshot last.

Commits are coalesced (mgmt.controlplane.coalescing): a committing thread returns once a
publication that started after its commit has ended, its own or another thread's. An
isolated commit publishes at once; commits within TOLLGATE_PUBLISH_GAP_MS of the last
publication wait out the gap and share one snapshot.
"""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import connection, transaction

from mgmt.compiler.compile import Compiled, compile_snapshot, summary
from mgmt.controlplane.coalescing import Coalescer, Covered, Start
from mgmt.gateway import selectors
from mgmt.gateway.models import Snapshot
from mgmt.tls import sealing_key

log = logging.getLogger(__name__)
# Arbitrary, fixed: the key of the PostgreSQL advisory lock held while publishing.
_ADVISORY_LOCK_KEY = 0x7011_6A7E
# Threads of one process take turns before they reach the database lock.
_process_lock = threading.Lock()
# The coalescer's state and the committers waiting on it.
_turns = threading.Condition()
_coalescer: Coalescer[Snapshot] = Coalescer()
# The snapshots that covered this context's commits, while someone is tracking them.
_covering: ContextVar[list[Snapshot] | None] = ContextVar("covering", default=None)


def _lock_publication() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])


def _refused(errors: tuple[str, ...] | list[str]) -> Snapshot:
    log.warning("snapshot refused: %s", "; ".join(errors))
    return Snapshot.objects.create(
        version="", status=Snapshot.Status.REFUSED, payload=b"", errors="\n".join(errors)
    )


def _compile() -> Compiled:
    try:
        rows = selectors.current_rows()
        unopenable = sealing_key.unopenable(rows.certificates, rows.upstreams)
        if unopenable:
            return Compiled(None, tuple(unopenable))
        return compile_snapshot(rows, selectors.gateway_settings(), int(time.time()))
    except Exception as exc:  # a compiler bug must not lose the owner's committed change
        log.exception("the compiler failed")
        return Compiled(None, (f"the compiler failed: {type(exc).__name__}: {exc}",))


def publish_snapshot() -> Snapshot:
    """Compile now. A refused snapshot is stored with its errors and never served."""
    with _process_lock, transaction.atomic():
        _lock_publication()
        compiled = _compile()
        if compiled.snapshot is None:
            return _refused(compiled.errors)
        message = compiled.snapshot
        latest = Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).order_by("-id").first()
        if latest is not None and latest.version == message.version:
            return latest
        created = Snapshot.objects.create(
            version=message.version,
            status=Snapshot.Status.PUBLISHED,
            payload=message.SerializeToString(deterministic=True),
            summary=summary(message)[:300],
            type_versions={s.type_url: s.version for s in message.sets},
        )
        log.info("snapshot %s published (%s)", created.version, created.summary)
        return created


def publish_covering() -> Snapshot | None:
    """Returns once a publication that started after this call has ended: the snapshot it
    stored, or None when this caller's own attempt failed (it raises)."""
    gap = settings.TOLLGATE_PUBLISH_GAP_MS / 1000
    with _turns:
        ticket = _coalescer.ticket()
        while True:
            step = _coalescer.next_step(ticket, time.monotonic(), gap)
            if isinstance(step, Covered):
                return step.result
            if isinstance(step, Start):
                break
            _turns.wait(step.seconds)
    result = None
    try:
        result = publish_snapshot()
        return result
    finally:
        with _turns:
            _coalescer.ended(step.number, time.monotonic(), result)
            _turns.notify_all()


@contextmanager
def tracking() -> Iterator[list[Snapshot]]:
    """Collects the snapshots that cover the commits made inside the block (by this thread)."""
    found: list[Snapshot] = []
    token = _covering.set(found)
    try:
        yield found
    finally:
        _covering.reset(token)


def _publish_after_commit() -> None:
    try:
        snapshot = publish_covering()
    except Exception:  # the change is committed; the next commit publishes it
        log.exception("publishing after commit failed")
        return
    if snapshot is not None and (found := _covering.get()) is not None:
        found.append(snapshot)


def publish_on_commit() -> None:
    """Queue one publication for the end of the current transaction (deduplicated)."""
    if any(entry[1] is _publish_after_commit for entry in connection.run_on_commit):
        return
    transaction.on_commit(_publish_after_commit)
