"""xDS credentials: the file's model, the CLI, the reloading store, metadata and the guard."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.xds_server.helpers import ENVOY_TOKEN, SIDECAR_TOKEN, credential_store, request
from xds_server import credentials, type_urls
from xds_server.auth import StreamGuard, principal_from_metadata
from xds_server.credentials import Credential
from xds_server.errors import (
    BadRequest,
    CredentialsError,
    LimitExceeded,
    PermissionDenied,
    Unauthenticated,
)
from xds_server.sidecar_client import default_node_id, read_token


@pytest.mark.pure
def test_added_credentials_round_trip_and_match_only_their_own_token() -> None:
    token = credentials.new_token()
    entries = credentials.added((), "gateway-1", "envoy", token)
    entries = credentials.added(entries, "gateway-1-sidecars", "sidecar", SIDECAR_TOKEN)
    text = credentials.render(entries)
    assert token not in text
    assert credentials.parse(text) == entries
    assert token.startswith("tgx_") and len(token) > 40
    assert credentials.match(entries, token) == Credential(
        "gateway-1", "envoy", credentials.token_hash(token)
    )
    assert credentials.match(entries, SIDECAR_TOKEN).name == "gateway-1-sidecars"  # type: ignore[union-attr]
    assert credentials.match(entries, token + "x") is None
    assert credentials.match(entries, "") is None


@pytest.mark.pure
def test_names_are_unique_and_slash_free_and_revoke_needs_a_known_name() -> None:
    entries = credentials.added((), "gateway-1", "envoy", ENVOY_TOKEN)
    with pytest.raises(CredentialsError, match="exists"):
        credentials.added(entries, "gateway-1", "sidecar", SIDECAR_TOKEN)
    for bad in ("", "a/b", "-x", "x" * 65, "a b"):
        with pytest.raises(CredentialsError, match="bad name"):
            credentials.added(entries, bad, "envoy", SIDECAR_TOKEN)
    with pytest.raises(CredentialsError, match="role"):
        credentials.added(entries, "admin", "admin", SIDECAR_TOKEN)
    assert credentials.revoked(entries, "gateway-1") == ()
    with pytest.raises(CredentialsError, match="no credential"):
        credentials.revoked(entries, "gateway-2")


@pytest.mark.pure
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ("[]", "credentials"),
        ('{"credentials": [1]}', "not an object"),
        ('{"credentials": [{"name": "a", "role": "root", "sha256": "' + "0" * 64 + '"}]}', "role"),
        ('{"credentials": [{"name": "a", "role": "envoy", "sha256": "abc"}]}', "sha256"),
        (
            '{"credentials": ['
            + ",".join(['{"name": "a", "role": "envoy", "sha256": "' + "0" * 64 + '"}'] * 2)
            + "]}",
            "twice",
        ),
    ],
)
def test_a_malformed_file_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        credentials.parse(text)


def test_cli_adds_prints_the_token_once_lists_without_secrets_and_revokes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "creds.json"
    assert credentials.main(["--file", str(path), "add", "gateway-1", "--role", "envoy"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("tgx_")
    assert token not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert credentials.match(credentials.load(path), token).name == "gateway-1"  # type: ignore[union-attr]
    assert credentials.main(["--file", str(path), "add", "gateway-1", "--role", "envoy"]) == 2
    assert "exists" in capsys.readouterr().err
    assert credentials.main(["--file", str(path), "list"]) == 0
    listed = capsys.readouterr().out
    assert listed == "gateway-1\tenvoy\n"
    assert credentials.main(["--file", str(path), "revoke", "gateway-1"]) == 0
    assert credentials.load(path) == ()


def test_store_reloads_a_changed_file_and_keeps_the_last_good_one_on_a_bad_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "creds.json"
    store = credential_store(path)
    changes: list[None] = []
    store.subscribe(lambda: changes.append(None))
    assert store.authenticate(ENVOY_TOKEN) is not None
    assert not store.reload_if_changed()  # unchanged
    credentials.save(path, credentials.revoked(credentials.load(path), "envoy-1"))
    assert store.reload_if_changed()
    assert store.authenticate(ENVOY_TOKEN) is None
    assert len(changes) == 1
    path.write_text("{ not json")
    assert not store.reload_if_changed()
    assert store.authenticate(SIDECAR_TOKEN) is not None  # the last good file still holds
    path.unlink()
    assert not store.reload_if_changed()
    assert store.authenticate(SIDECAR_TOKEN) is not None


def test_a_missing_file_is_a_clear_error_at_start(tmp_path: Path) -> None:
    from xds_server.auth import CredentialStore

    with pytest.raises(CredentialsError, match="cannot read the xDS credentials file"):
        CredentialStore(tmp_path / "absent.json").load()


def test_principal_comes_from_one_bearer_authorization_entry(tmp_path: Path) -> None:
    store = credential_store(tmp_path / "creds.json")
    principal = principal_from_metadata([("authorization", f"Bearer {ENVOY_TOKEN}")], store)
    assert (principal.name, principal.role) == ("envoy-1", "envoy")
    assert principal_from_metadata(
        [("Authorization", f"bearer  {SIDECAR_TOKEN} ")], store
    ).name == ("sidecar-1")
    for metadata in (
        [],
        [("x-token", ENVOY_TOKEN)],
        [("authorization", ENVOY_TOKEN)],
        [("authorization", "Bearer ")],
        [("authorization", "Bearer tgx_unknown")],
        [("authorization", f"Bearer {ENVOY_TOKEN}"), ("authorization", f"Bearer {ENVOY_TOKEN}")],
    ):
        with pytest.raises(Unauthenticated) as caught:
            principal_from_metadata(metadata, store)  # type: ignore[arg-type]
        assert ENVOY_TOKEN not in str(caught.value)


@pytest.mark.pure
def test_guard_holds_a_stream_to_its_proven_node_its_role_types_and_the_name_limit() -> None:
    envoy = Credential("gateway-1", "envoy", "0" * 64)
    guard = StreamGuard(envoy, max_resource_names=3)
    with pytest.raises(BadRequest):
        StreamGuard(envoy, max_resource_names=3).check(_without_node(type_urls.CLUSTER))
    with pytest.raises(PermissionDenied):
        StreamGuard(envoy, max_resource_names=3).check(
            request(type_urls.CLUSTER, node_id="gateway-10")
        )
    guard.check(request(type_urls.CLUSTER, node_id="gateway-1", node_cluster="tollgate"))
    guard.check(_without_node(type_urls.ENDPOINT, names=["a", "b", "c"]))
    with pytest.raises(LimitExceeded):
        guard.check(_without_node(type_urls.ENDPOINT, names=["a", "b", "c", "d"]))
    for forbidden in (type_urls.CREDENTIAL_SHARD, "type.googleapis.com/envoy.config.Made.Up"):
        with pytest.raises(PermissionDenied):
            guard.check(_without_node(forbidden))
    with pytest.raises(PermissionDenied, match="switch node"):
        guard.check(request(type_urls.CLUSTER, node_id="gateway-1", node_cluster="other"))
    sidecar = StreamGuard(Credential("n-sidecars", "sidecar", "0" * 64), max_resource_names=3)
    sidecar.check(request(type_urls.RATE_LIMIT_SHARD, node_id=default_node_id("n-sidecars", "rl")))
    with pytest.raises(PermissionDenied):
        sidecar.check(_without_node(type_urls.LISTENER))


def test_sidecars_read_their_token_from_a_file_before_the_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "t"
    token_file.write_text(SIDECAR_TOKEN + "\n")
    both = {"TOLLGATE_XDS_TOKEN_FILE": str(token_file), "TOLLGATE_XDS_TOKEN": "other"}
    assert read_token(both) == SIDECAR_TOKEN
    assert read_token({"TOLLGATE_XDS_TOKEN": " env-token "}) == "env-token"
    assert read_token({}) == ""
    with pytest.raises(OSError):
        read_token({"TOLLGATE_XDS_TOKEN_FILE": str(tmp_path / "absent")})
    assert default_node_id("gw-sidecars", "extauthz").startswith("gw-sidecars/extauthz-")
    assert default_node_id("gw", "x").endswith(f"-{os.getpid()}")


def _without_node(type_url: str, names: list[str] | None = None):  # type: ignore[no-untyped-def]
    req = request(type_url, names=names or [])
    req.ClearField("node")
    return req


def test_rendered_file_is_json_with_only_names_roles_and_hashes() -> None:
    doc = json.loads(credentials.render(credentials.added((), "a", "envoy", ENVOY_TOKEN)))
    assert doc == {
        "credentials": [
            {"name": "a", "role": "envoy", "sha256": credentials.token_hash(ENVOY_TOKEN)}
        ]
    }
