"""Per-node xDS credentials: a JSON file of SHA-256 hashes, and the CLI that manages it.

`python -m xds_server.credentials add NAME --role envoy|sidecar` prints a new token once;
only its hash is stored. `revoke NAME` removes it, `list` shows names and roles. xds_server
re-reads the file when it changes, so neither needs a restart. The parts that decide (parse,
render, add, revoke, match) do no I/O.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, cast

from xds_server.errors import CredentialsError

Role = Literal["envoy", "sidecar"]
ROLES: Final[tuple[Role, ...]] = ("envoy", "sidecar")
TOKEN_PREFIX: Final = "tgx_"  # noqa: S105 (a visible prefix, not a secret)
CREDENTIALS_ENV: Final = "TOLLGATE_XDS_CREDENTIALS"
# A credential's name is a node id, or the prefix of `name/<suffix>` ids: no slash in it.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Credential:
    """One node's credential: who it proves (`name`), what it may read (`role`), its hash."""

    name: str
    role: Role
    sha256: str = ""  # hex digest of the token; repr shows it, never the token


def new_token() -> str:
    """A fresh random token; it is shown once and never stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse(text: str) -> tuple[Credential, ...]:
    """Read the file's JSON: `{"credentials": [{"name", "role", "sha256"}, ...]}`."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CredentialsError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("credentials"), list):
        raise CredentialsError('expected an object with a "credentials" list')
    out: list[Credential] = []
    names: set[str] = set()
    for i, raw in enumerate(doc["credentials"]):
        if not isinstance(raw, dict):
            raise CredentialsError(f"credential #{i} is not an object")
        name, role, sha = raw.get("name"), raw.get("role"), raw.get("sha256")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise CredentialsError(f"credential #{i}: bad name {name!r}")
        if role not in ROLES:
            raise CredentialsError(f"credential {name!r}: role must be one of {ROLES}")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise CredentialsError(f"credential {name!r}: sha256 must be 64 lowercase hex digits")
        if name in names:
            raise CredentialsError(f"credential {name!r} appears twice")
        names.add(name)
        out.append(Credential(name, cast(Role, role), sha))
    return tuple(out)


def render(credentials: Sequence[Credential]) -> str:
    entries = [{"name": c.name, "role": c.role, "sha256": c.sha256} for c in credentials]
    return json.dumps({"credentials": entries}, indent=2) + "\n"


def added(
    credentials: Sequence[Credential], name: str, role: str, token: str
) -> tuple[Credential, ...]:
    """`credentials` with a new one for `token`; a name already in use is refused."""
    if not _NAME.fullmatch(name):
        raise CredentialsError(
            f"bad name {name!r}: letters, digits, '.', '_', '-' (no '/'), at most 64"
        )
    if role not in ROLES:
        raise CredentialsError(f"role must be one of {ROLES}, got {role!r}")
    if any(c.name == name for c in credentials):
        raise CredentialsError(f"credential {name!r} exists: revoke it first")
    return (*credentials, Credential(name, role, token_hash(token)))


def revoked(credentials: Sequence[Credential], name: str) -> tuple[Credential, ...]:
    if not any(c.name == name for c in credentials):
        raise CredentialsError(f"no credential named {name!r}")
    return tuple(c for c in credentials if c.name != name)


def match(credentials: Sequence[Credential], token: str) -> Credential | None:
    """The credential whose hash is `token`'s; every entry is compared, in constant time."""
    digest = token_hash(token).encode()
    found = None
    for credential in credentials:
        if hmac.compare_digest(digest, credential.sha256.encode()):
            found = credential
    return found


def load(path: Path) -> tuple[Credential, ...]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise CredentialsError(f"cannot read the xDS credentials file {path}: {exc}") from None
    try:
        return parse(text)
    except CredentialsError as exc:
        raise CredentialsError(f"{path}: {exc}") from None


def write_private(path: Path, text: str) -> None:
    """Replace `path` at once with `text`, readable by its owner only (0600): a reader sees
    the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save(path: Path, credentials: Sequence[Credential]) -> None:
    """Replace the file at once (0600), so xds_server reads the old file or the new one."""
    write_private(path, render(credentials))


def load_or_empty(path: Path) -> tuple[Credential, ...]:
    return load(path) if path.exists() else ()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xds_server.credentials", description=__doc__)
    parser.add_argument(
        "--file",
        type=Path,
        default=os.environ.get(CREDENTIALS_ENV),
        help=f"the credentials file (default: ${CREDENTIALS_ENV})",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a credential and print its token once")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    commands.add_parser("revoke", help="remove a credential").add_argument("name")
    commands.add_parser("list", help="names and roles (no secrets)")
    args = parser.parse_args(argv)
    if args.file is None:
        parser.error(f"give --file or set {CREDENTIALS_ENV}")
    path: Path = args.file
    try:
        current = load_or_empty(path)
        if args.command == "add":
            token = new_token()
            save(path, added(current, args.name, args.role, token))
            print(token)
        elif args.command == "revoke":
            save(path, revoked(current, args.name))
        else:
            for credential in current:
                print(f"{credential.name}\t{credential.role}")
    except CredentialsError as exc:
        print(f"xds_server.credentials: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
