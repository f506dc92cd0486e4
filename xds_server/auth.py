"""Who an xDS client is, and what each request of its stream may ask for.

`principal_from_metadata` turns a call's `authorization: Bearer <token>` into the credential
it proves (any RPC on xds_server authenticates with it). A `StreamGuard` then checks every
request of an ADS stream: the node the credential proves, the types its role may read, the
number of names. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from xds_server import credentials as creds
from xds_server import type_urls
from xds_server.credentials import Credential, Role
from xds_server.errors import (
    BadRequest,
    CredentialsError,
    LimitExceeded,
    PermissionDenied,
    StreamRefused,
    Unauthenticated,
)

ROLE_TYPES: Final[dict[Role, frozenset[str]]] = {
    "envoy": type_urls.ENVOY_TYPES,
    "sidecar": type_urls.TOLLGATE_TYPES,
}
# Longer than any token we issue; anything longer is not hashed at all.
MAX_TOKEN_CHARS: Final = 256
# Node ids and clusters are recorded by mgmt with every ACK/NACK: printable, no spaces.
_NODE_TEXT: Final = re.compile(r"[\x21-\x7e]{1,128}")

log = logging.getLogger(__name__)


class CredentialStore:
    """The credentials file, re-read when it changes; a bad new file keeps the last good one."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._credentials: tuple[Credential, ...] = ()
        self._stamp: tuple[int, int, int] | None = None
        self._listeners: list[Callable[[], None]] = []

    def load(self) -> None:
        """Read the file now; raises `CredentialsError` (at start: a clear error, no serving)."""
        stamp = self._read_stamp()
        self._credentials = creds.load(self._path)
        self._stamp = stamp
        log.info("%d xDS credentials from %s", len(self._credentials), self._path)

    def reload_if_changed(self) -> bool:
        """Re-read the file if it changed; True when the credentials did, so streams are
        re-checked (revoked ones end)."""
        try:
            stamp = self._read_stamp()
        except CredentialsError as exc:
            if self._stamp is not None:
                log.error("%s; keeping the %d credentials loaded", exc, len(self._credentials))
                self._stamp = None
            return False
        if stamp == self._stamp:
            return False
        try:
            fresh = creds.load(self._path)
        except CredentialsError as exc:
            log.error("%s; keeping the %d credentials loaded", exc, len(self._credentials))
            self._stamp = stamp  # not re-read until it changes again
            return False
        self._stamp = stamp
        if fresh == self._credentials:
            return False
        self._credentials = fresh
        log.info("xDS credentials reloaded: %d", len(fresh))
        for listener in self._listeners:
            listener()
        return True

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every reload that changed the credentials."""
        self._listeners.append(listener)

    def authenticate(self, token: str) -> Credential | None:
        return creds.match(self._credentials, token)

    def is_current(self, credential: Credential) -> bool:
        """False once `credential` is revoked, or its name re-issued with another token."""
        return credential in self._credentials

    async def run(self, interval: float) -> None:
        """Poll the file every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.reload_if_changed()
            except Exception:
                log.exception("re-reading the xDS credentials failed; will try again")

    def _read_stamp(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self._path)
        except OSError as exc:
            raise CredentialsError(
                f"cannot read the xDS credentials file {self._path}: {exc}"
            ) from None
        return (st.st_ino, st.st_mtime_ns, st.st_size)


def principal_from_metadata(
    metadata: Iterable[tuple[str, str | bytes]], store: CredentialStore
) -> Credential:
    """The credential a call's `authorization: Bearer <token>` proves, or `Unauthenticated`."""
    values = [value for key, value in metadata if key.lower() == "authorization"]
    if not values:
        raise Unauthenticated("no credential: send 'authorization: Bearer <token>' metadata")
    if len(values) > 1:
        raise Unauthenticated("more than one authorization metadata entry")
    value = values[0]
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("authorization must be 'Bearer <token>'")
    credential = None if len(token) > MAX_TOKEN_CHARS else store.authenticate(token)
    if credential is None:
        raise Unauthenticated("unknown or revoked xDS credential")
    return credential


def check_node(principal: Credential, node_id: str) -> None:
    """A node id is the credential's name, or `name/<suffix>` (several sidecars, one credential)."""
    if not _NODE_TEXT.fullmatch(node_id):
        raise PermissionDenied("a node id is 1 to 128 printable characters, no spaces")
    if node_id != principal.name and not node_id.startswith(principal.name + "/"):
        raise PermissionDenied(
            f"credential {principal.name!r} proves node {principal.name!r} or "
            f"'{principal.name}/<suffix>', not {node_id!r}"
        )


def check_type(principal: Credential, type_url: str) -> None:
    if type_url not in ROLE_TYPES[principal.role]:
        raise PermissionDenied(f"a {principal.role} credential may not read {type_url}")


class StreamGuard:
    """Checks each request of one authenticated ADS stream before the cache sees it.

    The first request names the node (once proven, a stream never switches node); every
    request asks for a type the role may read, and for at most `max_resource_names` names.
    """

    def __init__(self, principal: Credential, *, max_resource_names: int) -> None:
        self.principal = principal
        self._max_names = max_resource_names
        self._node: tuple[str, str] | None = None

    def check(self, req: Any) -> None:
        """Raises a `StreamRefused` for a request the stream may not make."""
        if req.HasField("node"):
            node = (req.node.id, req.node.cluster)
            if self._node is None:
                check_node(self.principal, req.node.id)
                if req.node.cluster and not _NODE_TEXT.fullmatch(req.node.cluster):
                    raise PermissionDenied("a node cluster is 1 to 128 printable characters")
                self._node = node
            elif node != self._node:
                raise PermissionDenied("a stream cannot switch node: open a new stream")
        elif self._node is None:
            raise BadRequest("the first request of a stream must carry its node")
        if req.type_url:
            check_type(self.principal, req.type_url)
        count = len(req.resource_names)
        if count > self._max_names:
            raise LimitExceeded(
                f"{count} resource names in one request; the limit is {self._max_names}"
            )


class RefusalLog:
    """A line per refused stream, at most one per `interval` seconds: a flood of refused
    clients is summed up, not written out one by one."""

    def __init__(self, what: str, interval: float = 5.0) -> None:
        self._what = what
        self._interval = interval
        self._last = -interval
        self._unlogged = 0

    def note(self, peer: str, error: StreamRefused) -> None:
        now = time.monotonic()
        if now - self._last < self._interval:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more refused since the last line)" if self._unlogged else ""
        log.warning("refused %s from %s: %s%s", self._what, peer, error, more)
        self._last = now
        self._unlogged = 0
