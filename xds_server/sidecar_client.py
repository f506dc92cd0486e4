"""The sidecars' ADS client: streams Tollgate's own resource types from xds_server.

One background thread holds one `StreamAggregatedResources` stream (state of the
world). Each response hands its whole type to that type's applier, then is ACKed; a
response the applier refuses is NACKed and the last good data stays live. When the
stream drops, the sidecar keeps answering from what it has and reconnects with capped,
jittered backoff. ext_authz and ratelimit_svc differ only in their appliers.
"""

import logging
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

log = logging.getLogger(__name__)


class UpdateRefused(Exception):
    """A response the client itself cannot hand to an applier (wrong or unknown type)."""


MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024
BACKOFF_BASE: Final = 0.05
BACKOFF_CAP: Final = 1.0
_INVALID_ARGUMENT: Final = 3  # google.rpc.Code, in a NACK's error_detail

CHANNEL_OPTIONS: Final = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # gRPC's own reconnect backoff grows to 120 s by default; keep it near ours so
    # the sidecar converges within about a second of xds_server coming back.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", int(BACKOFF_CAP * 1000)),
]


TOKEN_ENV: Final = "TOLLGATE_XDS_TOKEN"  # noqa: S105 (a variable name)
TOKEN_FILE_ENV: Final = "TOLLGATE_XDS_TOKEN_FILE"  # noqa: S105
NODE_ENV: Final = "TOLLGATE_XDS_NODE"


def default_node_id(node: str, role: str) -> str:
    """`node/<role>-<host>-<pid>`: proven by the credential named `node`, one per process."""
    return f"{node}/{role}-{socket.gethostname()}-{os.getpid()}"


def read_token(environ: Mapping[str, str]) -> str:
    """The sidecar's xDS token: from the file `TOLLGATE_XDS_TOKEN_FILE` names (it keeps the
    token out of the environment), else `TOLLGATE_XDS_TOKEN`; "" when neither is set."""
    path = environ.get(TOKEN_FILE_ENV, "")
    if path:
        with open(path) as f:
            return f.read().strip()
    return environ.get(TOKEN_ENV, "").strip()


def backoff_delay(attempt: int, rng: Callable[[float, float], float] = random.uniform) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return rng(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(attempt, 16)))


Applier = Callable[[list[bytes]], None]


class SidecarXdsClient:
    """Feeds each subscribed type to its applier until `stop()`.

    `appliers` maps type URL to a function given every resource of that type (state of
    the world), in the order of the mapping on a new stream. An applier raising one of
    `refusals` is an expected NACK (logged without a traceback); anything else is a bug,
    NACKed too so the stream survives. `token` is sent as `authorization: Bearer` metadata;
    xds_server checks that it proves `node_id`.
    """

    def __init__(
        self,
        appliers: Mapping[str, Applier],
        target: str,
        *,
        node_id: str,
        token: str,
        refusals: tuple[type[Exception], ...] = (),
    ) -> None:
        self._target = target
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._node = base_pb2.Node(id=node_id, cluster="tollgate")
        self._appliers = dict(appliers)
        self._refusals = refusals
        # Last version applied per type: sent on reconnect and in NACKs.
        self._versions: dict[str, str] = {}
        self._stopping = threading.Event()
        self._call: Any = None
        self._channel = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self._channel)
        self._thread = threading.Thread(target=self._run, name="xds-client", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        call = self._call
        if call is not None:
            call.cancel()
        self._thread.join(timeout)
        self._channel.close()

    def _run(self) -> None:
        attempt = 0
        outage_since: float | None = None
        while not self._stopping.is_set():
            try:
                for _ in self._stream():
                    # Data flows again: the outage (if any) is over.
                    if outage_since is not None:
                        log.info(
                            "xDS stream to %s restored after %.1f s",
                            self._target,
                            time.monotonic() - outage_since,
                        )
                        outage_since = None
                    attempt = 0
                reason = "stream closed by server"
            except grpc.RpcError as error:
                reason = f"{error.code().name if error.code() else 'error'}: {error.details()}"
            if self._stopping.is_set():
                return
            if outage_since is None:
                outage_since = time.monotonic()
                log.warning(
                    "xDS stream to %s down (%s); serving last data, retrying",
                    self._target,
                    reason,
                )
            self._stopping.wait(backoff_delay(attempt))
            attempt += 1

    def _stream(self) -> Iterator[None]:
        """One ADS stream; yields after every response applied (or refused)."""
        requests: queue.SimpleQueue[discovery_pb2.DiscoveryRequest | None] = queue.SimpleQueue()
        for type_url in self._appliers:
            requests.put(
                discovery_pb2.DiscoveryRequest(
                    node=self._node,
                    type_url=type_url,
                    version_info=self._versions.get(type_url, ""),
                )
            )
        call = self._stub.StreamAggregatedResources(
            iter(requests.get, None), metadata=self._metadata
        )
        self._call = call
        try:
            if self._stopping.is_set():
                call.cancel()
            for response in call:
                requests.put(self._handle(response))
                yield
        finally:
            requests.put(None)  # ends the request iterator, so its thread exits
            self._call = None

    def _handle(self, response: Any) -> Any:
        """Apply one DiscoveryResponse; return its ACK or NACK."""
        type_url: str = response.type_url
        try:
            apply = self._appliers.get(type_url)
            if apply is None:
                raise UpdateRefused(f"unexpected type {type_url}")
            values: list[bytes] = []
            for resource in response.resources:
                if resource.type_url != type_url:
                    raise UpdateRefused(f"a {resource.type_url} resource in a {type_url} response")
                values.append(resource.value)
            apply(values)
        except Exception as error:
            if isinstance(error, (UpdateRefused, *self._refusals)):
                log.error("NACK %s version %s: %s", type_url, response.version_info, error)
            else:  # a bug in the store: refuse the update rather than lose the stream
                log.exception("NACK %s version %s", type_url, response.version_info)
            nack = discovery_pb2.DiscoveryRequest(
                type_url=type_url,
                version_info=self._versions.get(type_url, ""),
                response_nonce=response.nonce,
            )
            nack.error_detail.code = _INVALID_ARGUMENT
            nack.error_detail.message = str(error)
            return nack
        self._versions[type_url] = response.version_info
        log.info("applied %s version %s", type_url.rsplit(".", 1)[-1], response.version_info)
        return discovery_pb2.DiscoveryRequest(
            type_url=type_url,
            version_info=response.version_info,
            response_nonce=response.nonce,
        )
