"""Which gateways have a snapshot yet: the nodes expected to acknowledge it, and those
that have not.

mgmt knows the gateways (Envoys and sidecars) only from their ACK events: per node and
type, the version it last accepted (XdsNodeStatus). A node is *connected*, and expected
to take snapshot S, when for some type S serves it last accepted a version that was live
recently before S (`earlier`: the snapshots published within a horizon before S, and the
one live when the horizon began): it was up to date, so the xDS server sends it S too. It
*has* S for a type once it accepted S's version of that type or a newer snapshot's (a
newer one supersedes S). A node whose last ACK predates the horizon counts as gone; a node
that never acknowledged anything is unknown.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NodeAck:
    node_id: str
    type_url: str
    acked_version: str


@dataclass(frozen=True, slots=True)
class Rollout:
    expected: frozenset[str]  # the connected nodes
    pending: frozenset[str]  # those of them that have not acknowledged it yet

    @property
    def live(self) -> bool:
        """Every connected node has it (vacuously so when none is connected)."""
        return not self.pending


def rollout(
    target: Mapping[str, str],
    earlier: Iterable[Mapping[str, str]],
    later: Iterable[Mapping[str, str]],
    acks: Iterable[NodeAck],
) -> Rollout:
    """`target`, `earlier` and `later`: snapshots' type URL -> version maps."""
    has = {type_url: {version} for type_url, version in target.items()}
    for snapshot in later:
        for type_url, version in snapshot.items():
            if type_url in has:
                has[type_url].add(version)
    behind: defaultdict[str, set[str]] = defaultdict(set)
    for snapshot in earlier:
        for type_url, version in snapshot.items():
            if type_url in has and version not in has[type_url]:
                behind[type_url].add(version)
    expected: set[str] = set()
    pending: set[str] = set()
    for ack in acks:
        if ack.acked_version in has.get(ack.type_url, ()):
            expected.add(ack.node_id)
        elif ack.acked_version in behind[ack.type_url]:
            expected.add(ack.node_id)
            pending.add(ack.node_id)
    return Rollout(frozenset(expected), frozenset(pending))
