"""The in-memory credential and application store that every Check reads.

Writers build new shard tables off to the side and publish them by swapping one
reference (`Store.snapshot`); readers take that reference once and never lock. A
shard whose serialized bytes are unchanged since the last update is reused as is.
"""

import hashlib
import struct
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from google.protobuf.message import DecodeError

from extauthz.caller_ids import certificate_id, token_client_id
from extauthz.errors import StoreError
from extauthz.keys import shard_of
from protos.tollgate.v1 import resources_pb2

if TYPE_CHECKING:
    from extauthz.answers import Allowance, Denial

# A credential is stored as one bytes object: SHA-256 of the key, then
# application_id (u64), expires_at (i64), revoked_at (i64): about 160 bytes per key
# with its key id and dict slot (measured), several times less than a small object.
# Token clients and client certificates (extauthz.caller_ids) are the tail alone: the token
# or the certificate was verified by Envoy, there is no secret to compare.
HASH_LENGTH: Final = 32
CREDENTIAL_TAIL: Final = struct.Struct("<Qqq")

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Application:
    """What a Check needs to know about an application.

    `grants` maps str(api_id) to (plan slug, str(subscription id), the plan's scopes): the
    strings go into the answer as they are.
    """

    id: int
    public_id: str
    organization_id: str
    consumer_id: str
    grants: dict[str, tuple[str, str, frozenset[str]]]


@dataclass(frozen=True, slots=True)
class _Shard(Generic[K, V]):
    name: str
    index: int
    count: int
    entries: dict[K, V]


@dataclass(frozen=True, slots=True)
class _Table(Generic[K, V]):
    """One resource type: its shards by index, and the parsed shards by content digest."""

    shards: tuple[dict[K, V], ...]
    by_digest: dict[bytes, _Shard[K, V]]

    @property
    def entry_count(self) -> int:
        return sum(len(shard) for shard in self.shards)


class Snapshot:
    """One consistent generation of credentials and applications. Never mutated, except
    `allowed`, a cache of prebuilt allowances (and of applications' not-subscribed refusals)
    that is valid for this generation."""

    __slots__ = ("allowed", "applications", "credential_shards", "credentials")

    def __init__(
        self,
        credentials: _Table[str, bytes],
        applications: _Table[int, Application],
        allowed: "dict[tuple[int, str, str], Allowance | Denial]",
    ) -> None:
        self.credentials = credentials
        self.applications = applications
        # Read on the hot path: a plain tuple, no property in between.
        self.credential_shards = credentials.shards
        self.allowed = allowed

    def credential(self, key_id: str) -> bytes | None:
        shards = self.credential_shards
        return shards[shard_of(key_id, len(shards))].get(key_id)

    def application(self, application_id: int) -> Application | None:
        shards = self.applications.shards
        return shards[application_id % len(shards)].get(application_id)


def _empty_table() -> "_Table[K, V]":
    return _Table(shards=({},), by_digest={})


class Store:
    """Credentials and applications, replaced per resource type with SotW semantics.

    Nothing is visible (`snapshot` is None) until both types have been received at
    least once, so a Check never sees keys without their applications.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # writers only
        self._credentials: _Table[str, bytes] | None = None
        self._applications: _Table[int, Application] | None = None
        self._listeners: list[Callable[[Snapshot], None]] = []
        self.snapshot: Snapshot | None = None
        # How many shards were actually parsed (not reused); for tests and metrics.
        self.shards_parsed = 0

    def subscribe(self, listener: Callable[[Snapshot], None]) -> None:
        """Call `listener` after every publication (and now, if already published)."""
        with self._lock:
            self._listeners.append(listener)
            current = self.snapshot
        if current is not None:
            listener(current)

    def replace_credential_shards(self, values: Iterable[bytes]) -> None:
        """Replace all credentials with the given serialized CredentialShards (SotW)."""
        with self._lock:
            previous = self._credentials or _empty_table()
            self._credentials = self._rebuild(values, previous, _parse_credentials)
            self._publish(applications_changed=False)

    def replace_application_shards(self, values: Iterable[bytes]) -> None:
        """Replace all applications with the given serialized ApplicationShards (SotW)."""
        with self._lock:
            previous = self._applications or _empty_table()
            self._applications = self._rebuild(values, previous, _parse_applications)
            self._publish(applications_changed=True)

    def _rebuild(
        self,
        values: Iterable[bytes],
        previous: _Table[K, V],
        parse: Callable[[bytes], _Shard[K, V]],
    ) -> _Table[K, V]:
        by_digest: dict[bytes, _Shard[K, V]] = {}
        for value in values:
            digest = hashlib.blake2b(value, digest_size=16).digest()
            shard = previous.by_digest.get(digest) or by_digest.get(digest)
            if shard is None:
                shard = parse(value)
                self.shards_parsed += 1
            by_digest[digest] = shard
        if not by_digest:
            return _empty_table()
        counts = {shard.count for shard in by_digest.values()}
        if len(counts) != 1:
            raise StoreError(f"shards disagree on shard_count: {sorted(counts)}")
        (count,) = counts
        slots: list[dict[K, V] | None] = [None] * count
        for shard in by_digest.values():
            if slots[shard.index] is not None:
                raise StoreError(f"two shards claim index {shard.index} (one is {shard.name!r})")
            slots[shard.index] = shard.entries
        # A shard index with no resource holds nothing (SotW: it was removed).
        return _Table(shards=tuple(s if s is not None else {} for s in slots), by_digest=by_digest)

    def _publish(self, *, applications_changed: bool) -> None:
        if self._credentials is None or self._applications is None:
            return
        current = self.snapshot
        # Allowed responses depend on applications only: keep them across key changes.
        keep = current is not None and not applications_changed
        allowed: dict[tuple[int, str, str], Allowance | Denial] = (
            current.allowed if keep and current is not None else {}
        )
        snapshot = Snapshot(self._credentials, self._applications, allowed)
        self.snapshot = snapshot
        for listener in self._listeners:
            listener(snapshot)


def _check_placement(kind: str, name: str, index: int, count: int) -> None:
    if count == 0 or index >= count:
        raise StoreError(f"{kind} {name!r}: index {index} out of range for shard_count {count}")


def _parse_credentials(value: bytes) -> _Shard[str, bytes]:
    try:
        message = resources_pb2.CredentialShard.FromString(value)
    except DecodeError as error:
        raise StoreError(f"undecodable CredentialShard: {error}") from None
    name, index, count = message.name, message.index, message.shard_count
    _check_placement("CredentialShard", name, index, count)
    pack = CREDENTIAL_TAIL.pack
    entries: dict[str, bytes] = {}
    for credential in message.credentials:
        key_id = credential.key_id
        key_hash = credential.key_hash
        if len(key_hash) != HASH_LENGTH:
            raise StoreError(f"{name}: key {key_id!r} has a {len(key_hash)}-byte hash, not 32")
        # A key in the wrong shard would be silently unknown: refuse the update instead.
        if shard_of(key_id, count) != index:
            raise StoreError(f"{name}: key {key_id!r} belongs in another shard")
        entries[key_id] = key_hash + pack(
            credential.application_id, credential.expires_at, credential.revoked_at
        )
    for client in message.token_clients:
        _place(entries, name, index, count, token_client_id(client.issuer, client.client_id))
        entries[token_client_id(client.issuer, client.client_id)] = pack(
            client.application_id, 0, client.revoked_at
        )
    for certificate in message.client_certificates:
        fingerprint = certificate.fingerprint_sha256
        if len(fingerprint) != HASH_LENGTH:
            raise StoreError(f"{name}: a client certificate has a {len(fingerprint)}-byte hash")
        lookup = certificate_id(fingerprint.hex())
        _place(entries, name, index, count, lookup)
        entries[lookup] = pack(
            certificate.application_id, certificate.expires_at, certificate.revoked_at
        )
    return _Shard(name, index, count, entries)


def _place(entries: dict[str, bytes], name: str, index: int, count: int, lookup: str) -> None:
    if shard_of(lookup, count) != index:
        raise StoreError(f"{name}: a token client or client certificate belongs in another shard")
    if lookup in entries:
        raise StoreError(f"{name}: a token client or client certificate is listed twice")


def _parse_applications(value: bytes) -> _Shard[int, Application]:
    try:
        message = resources_pb2.ApplicationShard.FromString(value)
    except DecodeError as error:
        raise StoreError(f"undecodable ApplicationShard: {error}") from None
    name, index, count = message.name, message.index, message.shard_count
    _check_placement("ApplicationShard", name, index, count)
    entries: dict[int, Application] = {}
    for app in message.applications:
        if app.id % count != index:
            raise StoreError(f"{name}: application {app.id} belongs in another shard")
        entries[app.id] = Application(
            id=app.id,
            public_id=app.public_id,
            organization_id=str(app.organization_id),
            consumer_id=app.consumer_id,
            grants={
                str(grant.api_id): (grant.plan, str(grant.subscription_id), frozenset(grant.scopes))
                for grant in app.grants
            },
        )
    return _Shard(name, index, count, entries)
