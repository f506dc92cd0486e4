"""What the retention job may delete, decided without a database."""

from datetime import UTC, datetime, timedelta

import pytest

from mgmt.controlplane.retention import (
    NodeRecord,
    StoredSnapshot,
    live_versions,
    rejections_to_delete,
    snapshots_to_delete,
    statuses_to_delete,
)

pytestmark = pytest.mark.pure

LDS, CDS = "lds", "cds"
NOW = datetime(2025, 3, 30, 12, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=14)


def _published(pk: int, lds: str, cds: str = "c1") -> StoredSnapshot:
    return StoredSnapshot(pk, True, {LDS: lds, CDS: cds})


def _refused(pk: int) -> StoredSnapshot:
    return StoredSnapshot(pk, False, {})


def test_the_newest_published_and_refused_are_kept_and_the_rest_goes():
    history = [_published(i, f"l{i}") for i in range(1, 11)] + [_refused(i) for i in (11, 12, 13)]

    doomed = snapshots_to_delete(history, set(), keep_published=3, keep_refused=1)

    assert doomed == {1, 2, 3, 4, 5, 6, 7, 11, 12}


def test_the_live_snapshot_is_kept_even_when_nothing_is_asked_to_be_kept():
    history = [_published(1, "l1"), _published(2, "l2"), _refused(3)]

    assert snapshots_to_delete(history, set(), keep_published=0, keep_refused=0) == {1, 3}


def test_a_version_a_node_still_runs_keeps_the_newest_snapshot_carrying_it():
    # The node is stuck on l2; cds c1 never changed, so every snapshot carries it.
    history = [_published(i, f"l{i}") for i in range(1, 8)]
    running = {(LDS, "l2"), (CDS, "c1")}

    doomed = snapshots_to_delete(history, running, keep_published=2, keep_refused=0)

    # 6 and 7 are the newest; 2 is what the node runs; c1 is carried by 7 already.
    assert doomed == {1, 3, 4, 5}


def test_selecting_again_after_deleting_selects_nothing():
    history = [_published(i, f"l{i}") for i in range(1, 30)] + [_refused(30), _refused(31)]
    running = {(LDS, "l4")}
    doomed = snapshots_to_delete(history, running, keep_published=5, keep_refused=1)

    remaining = [s for s in history if s.id not in doomed]

    assert snapshots_to_delete(remaining, running, keep_published=5, keep_refused=1) == set()


def test_live_versions_are_those_of_the_newest_published_snapshot():
    history = [_published(1, "l1"), _published(2, "l2", "c2"), _refused(3)]

    assert live_versions(history) == {(LDS, "l2"), (CDS, "c2")}
    assert live_versions([_refused(1)]) == frozenset()


def test_a_stale_status_goes_unless_its_node_runs_the_live_version():
    live = {(LDS, "l9")}
    old = CUTOFF - timedelta(seconds=1)
    statuses = [
        NodeRecord(1, LDS, "l3", old),  # gone away on an old version
        NodeRecord(2, LDS, "l9", old),  # quiet, but runs the live version
        NodeRecord(3, LDS, "l3", CUTOFF + timedelta(seconds=1)),  # recent
        NodeRecord(4, CDS, "l9", old),  # same version string, another type: not live
    ]

    assert statuses_to_delete(statuses, live, older_than=CUTOFF) == {1, 4}


def test_old_rejections_go_except_those_of_the_live_snapshot():
    live = {(LDS, "l9")}
    old = CUTOFF - timedelta(days=1)
    rejections = [
        NodeRecord(1, LDS, "l3", old),
        NodeRecord(2, LDS, "l9", old),  # the live snapshot's NACK: the owner must see it
        NodeRecord(3, LDS, "l4", NOW),
    ]

    assert rejections_to_delete(rejections, live, older_than=CUTOFF) == {1}
