"""Which control-plane history to delete: old snapshots, and node statuses and NACKs that
no longer describe anything running.

Kept always: the live snapshot (the newest published), the newest `keep_published`
published and `keep_refused` refused ones, and for every (type, version) a node still
runs the newest snapshot that carries it; node statuses on the live version, and the
rejections of the live snapshot's versions. Everything else goes once it is older than
the history horizon. Selection only: the job in mgmt.gateway.retention_job deletes.
"""

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime

TypeVersion = tuple[str, str]  # (xDS type URL, version)


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    id: int
    published: bool  # False: refused
    type_versions: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node status or a rejection: which type and version it is about, and when."""

    id: int
    type_url: str
    version: str
    at: datetime


def live_versions(snapshots: Iterable[StoredSnapshot]) -> frozenset[TypeVersion]:
    """The (type, version) pairs of the newest published snapshot."""
    published = [s for s in snapshots if s.published]
    if not published:
        return frozenset()
    live = max(published, key=lambda s: s.id)
    return frozenset(live.type_versions.items())


def snapshots_to_delete(
    snapshots: Iterable[StoredSnapshot],
    running: Set[TypeVersion],
    *,
    keep_published: int,
    keep_refused: int,
) -> set[int]:
    """`running`: the (type, version) pairs nodes have acknowledged. A pair carried by many
    snapshots (a type that rarely changes) keeps only the newest of them: keeping them all
    would keep everything."""
    newest_first = sorted(snapshots, key=lambda s: s.id, reverse=True)
    published = [s for s in newest_first if s.published]
    refused = [s for s in newest_first if not s.published]
    keep = {s.id for s in published[: max(1, keep_published)]}
    keep |= {s.id for s in refused[: max(0, keep_refused)]}
    unclaimed = set(running)
    for snapshot in published:
        claimed = unclaimed & snapshot.type_versions.items()
        if claimed:
            keep.add(snapshot.id)
            unclaimed -= claimed
    return {s.id for s in newest_first} - keep


def statuses_to_delete(
    statuses: Iterable[NodeRecord], live: Set[TypeVersion], *, older_than: datetime
) -> set[int]:
    """Node statuses (their acked version) not updated since `older_than` and not live:
    a node that went away. One on the live version describes a running node: kept."""
    return {s.id for s in statuses if s.at < older_than and (s.type_url, s.version) not in live}


def rejections_to_delete(
    rejections: Iterable[NodeRecord], live: Set[TypeVersion], *, older_than: datetime
) -> set[int]:
    """NACKs older than `older_than`, except those of the live snapshot's versions (what
    the API owner needs to read about the configuration in force)."""
    return {r.id for r in rejections if r.at < older_than and (r.type_url, r.version) not in live}
