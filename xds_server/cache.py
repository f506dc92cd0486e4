"""The snapshot cache: node group -> snapshot, and each ADS stream's parked watches.

Pure, in go-control-plane's shape (pkg/cache/v3/simple.go): no gRPC and no I/O here. A
stream feeds each DiscoveryRequest to its `StreamState`; answers come out of
`take_responses()`, either at once or when `set_snapshot` wakes a parked watch.

Node groups: a stream's group is its node's `cluster`. A group with no snapshot of its own
is served the default group's ("*"), which is where the snapshot source puts mgmt's.
Every method is meant to be called from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from envoy.service.discovery.v3 import discovery_pb2

from xds_server import type_urls
from xds_server.errors import InconsistentSnapshot
from xds_server.snapshot import Snapshot

DEFAULT_GROUP = "*"
MAX_ERROR_CHARS = 10_000  # mgmt keeps this much of a NACK's error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class XdsEvent:
    """A client accepted (ACK) or rejected (NACK) a version of one type."""

    kind: Literal["ack", "nack"]
    node_id: str
    node_cluster: str
    type_url: str
    version: str
    error: str | None
    at: float


EventHook = Callable[[XdsEvent], None]


@dataclass
class _Watch:
    """What one stream asked for of one type, and what it was last sent."""

    names: frozenset[str] | None  # None: wildcard
    known_version: str  # sent (ACKed or NACKed) or, before any response, the client's own
    sent_names: frozenset[str] | None = None
    open: bool = True  # parked, waiting for something new to answer with


@dataclass
class _Sent:
    nonce: str
    version: str
    acked: str | None = None  # the last version of this type the client ACKed on this stream
    rejected: str | None = None  # the last version it NACKed (never resent unprompted)


class SnapshotCache:
    """Snapshots per node group, and the streams whose watches a new snapshot may answer."""

    def __init__(
        self,
        *,
        on_event: EventHook | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._snapshots: dict[str, Snapshot] = {}
        self._streams: set[StreamState] = set()
        self._on_event = on_event
        self._clock = clock
        self._stream_ids = itertools.count(1)

    def set_snapshot(self, group: str, snapshot: Snapshot) -> None:
        """Serve `snapshot` to `group`; raises `InconsistentSnapshot` and keeps the old one."""
        errors = snapshot.consistency_errors()
        if errors:
            raise InconsistentSnapshot(snapshot.version, errors)
        self._snapshots[group] = snapshot
        for stream in list(self._streams):
            if stream.group is None or group in (stream.group, DEFAULT_GROUP):
                stream.wake()

    def get_snapshot(self, group: str) -> Snapshot | None:
        """The snapshot set for exactly this group, if any."""
        return self._snapshots.get(group)

    def snapshot_for(self, group: str) -> Snapshot | None:
        """What a node in `group` is served: its group's snapshot, else the default group's."""
        snap = self._snapshots.get(group)
        return snap if snap is not None else self._snapshots.get(DEFAULT_GROUP)

    def snapshots(self) -> dict[str, Snapshot]:
        """Every group's snapshot: a copy made in one call, safe to take from another thread
        (the metrics server's)."""
        return dict(self._snapshots)

    def clear_snapshot(self, group: str) -> None:
        self._snapshots.pop(group, None)

    def open_stream(self) -> StreamState:
        stream = StreamState(self, next(self._stream_ids))
        self._streams.add(stream)
        return stream

    def close_stream(self, stream: StreamState) -> None:
        """Forget the stream and its watches; idempotent."""
        stream.closed = True
        stream.wake()
        self._streams.discard(stream)

    @property
    def stream_count(self) -> int:
        return len(self._streams)

    def _emit(self, event: XdsEvent) -> None:
        if event.kind == "nack":
            log.warning(
                "NACK from node %r (cluster %r): %s version %r: %s",
                event.node_id,
                event.node_cluster,
                event.type_url,
                event.version,
                event.error,
            )
        else:
            log.debug(
                "ACK from node %r: %s version %r", event.node_id, event.type_url, event.version
            )
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("the ACK/NACK hook failed; the stream carries on")


class StreamState:
    """One ADS stream's view of the protocol: nonces sent, versions ACKed, watches parked."""

    def __init__(self, cache: SnapshotCache, stream_id: int) -> None:
        self._cache = cache
        self.stream_id = stream_id
        self.node_id = ""
        self.node_cluster = ""
        self.group: str | None = None  # set by the first request that carries a node
        self.closed = False
        self._watches: dict[str, _Watch] = {}
        self._sent: dict[str, _Sent] = {}
        self._nonces = itertools.count(1)
        self._wakeup = asyncio.Event()
        # Clusters were sent since the last endpoints: an EDS cluster Envoy replaces warms
        # until it gets its endpoints again, and Envoy asks for them with the version it
        # already holds (xDS protocol, "resource warming"). Such a request is answered.
        self._clusters_since_endpoints = False

    def handle_request(
        self, req: discovery_pb2.DiscoveryRequest, *, names: frozenset[str] | None = None
    ) -> None:
        """Process one request: ignore it (stale nonce), or record ACK/NACK and park a watch.

        `names`, if given, are `req.resource_names` already taken in as a set (the server
        does that a slice at a time); otherwise they are taken from `req`.
        """
        if req.HasField("node") and self.group is None:
            self.node_id = req.node.id
            self.node_cluster = req.node.cluster
            self.group = req.node.cluster or DEFAULT_GROUP
        type_url = req.type_url
        if not type_url:
            return
        sent = self._sent.get(type_url)
        if sent is not None and req.response_nonce != sent.nonce:
            # An answer to a response we have since superseded: go-control-plane ignores it.
            return
        if sent is None:
            # First request for this type on this stream: the client may still hold a version
            # from an earlier stream (or another replica).
            known = req.version_info
        else:
            known = sent.version
            if req.HasField("error_detail"):
                self._record_nack(type_url, sent, req.error_detail.message)
            else:
                self._record_ack(type_url, sent)
                if type_url == type_urls.ENDPOINT and self._clusters_since_endpoints:
                    known = ""  # answer it: a replaced cluster is waiting for its endpoints
                    self._clusters_since_endpoints = False
        if type_url not in type_urls.NAMED_TYPES:
            names = None
        elif names is None:
            names = frozenset(req.resource_names)
        previous = self._watches.get(type_url)
        self._watches[type_url] = _Watch(
            names=names,
            known_version=known,
            sent_names=previous.sent_names if previous is not None else None,
        )
        self.wake()

    def take_responses(self) -> list[discovery_pb2.DiscoveryResponse]:
        """Answer every parked watch the current snapshot has something new for, in PUSH_ORDER."""
        if self.closed or self.group is None:
            return []
        snap = self._cache.snapshot_for(self.group)
        if snap is None:
            return []
        out = []
        for type_url in _push_order(self._watches):
            watch = self._watches[type_url]
            if not watch.open or not snap.has_type(type_url):
                continue
            version = snap.type_version(type_url)
            names_changed = (
                watch.names is not None
                and watch.names is not watch.sent_names
                and watch.names != watch.sent_names
            )
            if version == watch.known_version and not names_changed:
                continue
            if watch.names is not None and not watch.names:
                # Subscribed to no EDS/RDS names at all: nothing to send.
                watch.sent_names = watch.names
                continue
            out.append(self._respond(type_url, watch, snap, version))
        return out

    async def next_responses(self) -> list[discovery_pb2.DiscoveryResponse]:
        """Wait until there is something to send; [] only once the stream is closed."""
        while not self.closed:
            responses = self.take_responses()
            if responses:
                return responses
            await self._wakeup.wait()
            self._wakeup.clear()
        return []

    def wake(self) -> None:
        self._wakeup.set()

    def acked_version(self, type_url: str) -> str | None:
        sent = self._sent.get(type_url)
        return sent.acked if sent is not None else None

    def rejected_version(self, type_url: str) -> str | None:
        sent = self._sent.get(type_url)
        return sent.rejected if sent is not None else None

    def _respond(
        self, type_url: str, watch: _Watch, snap: Snapshot, version: str
    ) -> discovery_pb2.DiscoveryResponse:
        resources = snap.resources(type_url)
        if watch.names is None:
            bodies = list(resources.values())
        else:
            # Only the names the snapshot has: a client asking for many costs no more.
            bodies = [resources[n] for n in sorted(watch.names.intersection(resources))]
        nonce = f"{self.stream_id}-{next(self._nonces)}"
        prev = self._sent.get(type_url)
        self._sent[type_url] = _Sent(
            nonce=nonce,
            version=version,
            acked=prev.acked if prev is not None else None,
            rejected=prev.rejected if prev is not None else None,
        )
        watch.open = False
        watch.known_version = version
        watch.sent_names = watch.names
        if type_url == type_urls.CLUSTER:
            self._clusters_since_endpoints = True
        elif type_url == type_urls.ENDPOINT:
            self._clusters_since_endpoints = False
        return discovery_pb2.DiscoveryResponse(
            version_info=version, resources=bodies, type_url=type_url, nonce=nonce
        )

    def _record_ack(self, type_url: str, sent: _Sent) -> None:
        if sent.acked == sent.version:
            return  # a subscription change re-using the nonce: already reported
        sent.acked = sent.version
        self._cache._emit(self._event("ack", type_url, sent.version, None))

    def _record_nack(self, type_url: str, sent: _Sent, message: str) -> None:
        # The rejected version stays the watch's known version, so it is not sent again
        # until a newer snapshot replaces it (go-control-plane #582 resent it in a loop).
        if sent.rejected == sent.version:
            return
        sent.rejected = sent.version
        # Recorded as text by mgmt: no NUL (PostgreSQL refuses it), and a bounded length.
        error = message.replace("\x00", "\ufffd")[:MAX_ERROR_CHARS]
        self._cache._emit(self._event("nack", type_url, sent.version, error))

    def _event(
        self, kind: Literal["ack", "nack"], type_url: str, version: str, error: str | None
    ) -> XdsEvent:
        return XdsEvent(
            kind=kind,
            node_id=self.node_id,
            node_cluster=self.node_cluster,
            type_url=type_url,
            version=version,
            error=error,
            at=self._cache._clock(),
        )


def _push_order(types: Iterable[str]) -> list[str]:
    rank = {url: i for i, url in enumerate(type_urls.PUSH_ORDER)}
    return sorted(types, key=lambda url: (rank.get(url, len(rank)), url))
