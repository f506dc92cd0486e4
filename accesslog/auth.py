"""Who sent an access-log stream: its first message's node, proven by the node's xDS token.

Envoy's gRPC access logger cannot add call metadata, so the token travels in the node
metadata (`tollgate_token`, a string) of the stream's first message. It is checked exactly
as xds_server checks a bearer token: the same credentials file (`CredentialStore`), role
"envoy", and the node id must be the credential's name or `name/<suffix>`. The token is
never logged, nor put in an error.
"""

from __future__ import annotations

from typing import Any, Final

from xds_server.auth import MAX_TOKEN_CHARS, CredentialStore, check_node
from xds_server.credentials import Credential
from xds_server.errors import BadRequest, PermissionDenied, Unauthenticated

TOKEN_FIELD: Final = "tollgate_token"  # noqa: S105 (a field name, not a secret)


def authenticate(message: Any, store: CredentialStore) -> tuple[Credential, str]:
    """The credential and node id the first `StreamAccessLogsMessage` of a stream proves;
    raises `Unauthenticated`, `PermissionDenied` or `BadRequest`."""
    if not message.HasField("identifier"):
        raise BadRequest("the first message of a stream must carry its identifier")
    node = message.identifier.node
    value = node.metadata.fields.get(TOKEN_FIELD)
    token = "" if value is None else value.string_value
    if not token:
        raise Unauthenticated(
            f"no credential: put the node's xDS token in node metadata {TOKEN_FIELD!r}"
        )
    credential = None if len(token) > MAX_TOKEN_CHARS else store.authenticate(token)
    if credential is None:
        raise Unauthenticated("unknown or revoked xDS credential")
    if credential.role != "envoy":
        raise PermissionDenied(f"a {credential.role} credential does not send access logs")
    check_node(credential, node.id)
    return credential, node.id


def check_same_node(message: Any, node_id: str) -> None:
    """A later message may repeat the identifier, never name another node."""
    if message.HasField("identifier") and message.identifier.node.id != node_id:
        raise PermissionDenied("a stream cannot switch node: open a new stream")
