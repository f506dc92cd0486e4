"""Open the sealed private keys of a snapshot's SDS secrets, just before it is served.

A snapshot carries each TLS certificate as an Envoy `Secret` whose private key is sealed
(xds_server.sealing): that is how it is stored in mgmt's history and in xds_server's state
file. The snapshot set on the cache, and so what an authenticated Envoy receives, holds the
opened key. A snapshot whose keys cannot be opened is refused whole, like an inconsistent
one: the gateway keeps serving the last good one. A key given as a file on the gateway host
is left as it is.

Pure: the sealing key is handed in.
"""

from __future__ import annotations

from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError

from xds_server import sealing, type_urls
from xds_server.errors import InvalidSnapshot
from xds_server.snapshot import ResourceSet, Snapshot

# A key carried in the snapshot itself. A key named by its file (or environment variable) on
# the gateway host is not in it: Envoy reads it there, and it passes through untouched.
_INLINE = frozenset({"inline_bytes", "inline_string"})


def open_secrets(snap: Snapshot, key: bytes | None) -> Snapshot:
    """`snap` with every sealed private key opened; `snap` itself when it seals nothing."""
    secrets = snap.resources(type_urls.SECRET)
    if not secrets:
        return snap
    opened: dict[str, any_pb2.Any] = {}
    for name, body in secrets.items():
        secret = secret_pb2.Secret()
        try:
            secret.ParseFromString(body.value)
        except DecodeError:
            raise InvalidSnapshot(f'Secret "{name}" does not decode') from None
        private_key = secret.tls_certificate.private_key
        if not sealing.is_sealed(private_key.inline_bytes):
            if private_key.WhichOneof("specifier") in _INLINE:
                # Refused rather than served: a clear key in a snapshot is a key in its history.
                raise InvalidSnapshot(f'Secret "{name}" carries a private key that is not sealed')
            opened[name] = body
            continue
        if key is None:
            raise InvalidSnapshot(
                f'Secret "{name}" is sealed and xds_server has no sealing key '
                "(TOLLGATE_SECRETS_KEY_FILE)"
            )
        try:
            clear = sealing.open_sealed(key, name, private_key.inline_bytes)
        except sealing.SealingError as exc:
            raise InvalidSnapshot(str(exc)) from None
        private_key.inline_bytes = clear
        packed = any_pb2.Any()
        packed.Pack(secret, deterministic=True)
        opened[name] = packed
    sets = dict(snap.sets)
    sets[type_urls.SECRET] = ResourceSet(snap.sets[type_urls.SECRET].version, opened)
    return Snapshot(version=snap.version, sets=sets, compiled_at=snap.compiled_at)
