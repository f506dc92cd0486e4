"""Compiles the current rows and publishes the snapshot, once per committed transaction.

Publishers take turns (an advisory lock on PostgreSQL, across processes; a process lock
for the embedded SQLite mode's single Django) and read the rows only once it is their
turn: whichever commit comes last, its publication reads the newest rows and inserts
the newest snapshot last.
"""

import logging
import threading
import time

from django.db import connection, transaction

from mgmt.compiler.compile import Compiled, compile_snapshot, summary
from mgmt.gateway import selectors
from mgmt.gateway.models import Snapshot

log = logging.getLogger(__name__)
# Arbitrary, fixed: the key of the PostgreSQL advisory lock held while publishing.
_ADVISORY_LOCK_KEY = 0x7011_6A7E
# Threads of one process take turns before they reach the database lock.
_process_lock = threading.Lock()


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
        return compile_snapshot(
            selectors.current_rows(), selectors.gateway_settings(), int(time.time())
        )
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


def _publish_after_commit() -> None:
    try:
        publish_snapshot()
    except Exception:  # the change is committed; the next commit publishes it
        log.exception("publishing after commit failed")


def publish_on_commit() -> None:
    """Queue one publication for the end of the current transaction (deduplicated)."""
    if any(entry[1] is _publish_after_commit for entry in connection.run_on_commit):
        return
    transaction.on_commit(_publish_after_commit)
