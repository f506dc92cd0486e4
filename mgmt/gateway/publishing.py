"""Compiles the current rows and publishes the snapshot, once per committed transaction."""

import logging
import threading
import time

from django.db import transaction

from mgmt.compiler.compile import compile_snapshot, summary
from mgmt.gateway import selectors
from mgmt.gateway.models import Snapshot

log = logging.getLogger(__name__)
# Two commits finishing together must not both publish the same version.
_publish_lock = threading.Lock()


def publish_snapshot() -> Snapshot:
    """Compile now. A refused snapshot is stored with its errors and never served."""
    with _publish_lock:
        rows = selectors.current_rows()
        compiled = compile_snapshot(rows, selectors.gateway_settings(), int(time.time()))
        if compiled.snapshot is None:
            log.warning("snapshot refused: %s", "; ".join(compiled.errors))
            return Snapshot.objects.create(
                version="",
                status=Snapshot.Status.REFUSED,
                payload=b"",
                errors="\n".join(compiled.errors),
            )
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
    publish_snapshot()


def publish_on_commit() -> None:
    """Queue one publication for the end of the current transaction (deduplicated)."""
    connection = transaction.get_connection()
    if any(entry[1] is _publish_after_commit for entry in connection.run_on_commit):
        return
    transaction.on_commit(_publish_after_commit)
