"""Which nodes are expected to take a snapshot and which have not yet, without a database."""

import pytest

from mgmt.controlplane.rollout import NodeAck, rollout
from mgmt.devapi.config_version import requested_wait

pytestmark = pytest.mark.pure

LDS, CREDS = "lds", "creds"
OLD = {LDS: "l1", CREDS: "k1"}
NEW = {LDS: "l1", CREDS: "k2"}  # only the credentials changed


def test_nodes_on_the_previous_version_are_expected_and_pending_until_they_ack():
    acks = [NodeAck("envoy", LDS, "l1"), NodeAck("sidecar", CREDS, "k1")]

    state = rollout(NEW, [OLD], [], acks)

    assert state.expected == {"envoy", "sidecar"}
    assert state.pending == {"sidecar"}  # the Envoy's types did not change
    assert not state.live


def test_a_node_that_acknowledged_the_new_version_has_it():
    state = rollout(NEW, [OLD], [], [NodeAck("sidecar", CREDS, "k2")])

    assert state.expected == {"sidecar"}
    assert state.live


def test_a_newer_snapshot_acknowledged_supersedes_this_one():
    newer = {LDS: "l1", CREDS: "k3"}

    state = rollout(NEW, [OLD], [newer], [NodeAck("sidecar", CREDS, "k3")])

    assert state.live
    assert state.expected == {"sidecar"}


def test_a_node_still_on_any_recent_version_is_expected():
    # Two quick writes: the sidecar has not caught up with the one before this one either.
    middle = {LDS: "l1", CREDS: "k1b"}

    state = rollout(NEW, [OLD, middle], [], [NodeAck("sidecar", CREDS, "k1")])

    assert state.pending == {"sidecar"}


def test_a_node_on_a_version_older_than_the_horizon_is_gone_not_waited_for():
    state = rollout(NEW, [OLD], [], [NodeAck("ghost", CREDS, "k0")])

    assert state.expected == frozenset()
    assert state.live


def test_a_revert_acknowledged_through_a_newer_snapshot_counts_as_live():
    reverted = dict(OLD)

    state = rollout(NEW, [OLD], [reverted], [NodeAck("sidecar", CREDS, "k1")])

    assert state.live


@pytest.mark.parametrize(
    ("prefer", "expected"),
    [
        ("wait=5", 5.0),
        ("respond-async, wait=3", 3.0),
        ("WAIT = 2", 2.0),
        ('wait="4"', 4.0),
        ("wait=600", 10.0),  # capped
        ("wait=0", 0.0),
        ("return=minimal", None),
        ("wait=-1", None),
        ("wait=soon", None),
        ("wait=1.5", None),  # RFC 7240: delta-seconds, a whole number
        ("", None),
    ],
)
def test_the_wait_preference_is_read_as_rfc_7240_writes_it(prefer: str, expected: float | None):
    assert requested_wait(prefer, most=10.0) == expected
