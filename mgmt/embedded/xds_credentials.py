"""xDS credentials for the gateway nodes one machine runs (`make run`, the tests, the bench).

Each node gets two: its Envoy's (the node id is the name) and one its sidecars share (their
node ids are `name/<process>`). Hashes go to xds_server's credentials file; each token stays
in a 0600 file of its own, and is re-issued only when it no longer matches.
"""

from dataclasses import dataclass
from pathlib import Path

from xds_server import credentials as creds
from xds_server.credentials import Role


@dataclass(frozen=True, slots=True)
class XdsCredential:
    name: str
    token_file: Path  # 0600; its path is what the sidecars are given, never the token

    def token(self) -> str:
        return self.token_file.read_text().strip()


@dataclass(frozen=True, slots=True)
class NodeCredentials:
    envoy: XdsCredential
    sidecars: XdsCredential


def ensure_credential(
    credentials_file: Path, token_dir: Path, name: str, role: Role
) -> XdsCredential:
    """A token for `name` in `token_dir`, whose hash (with `role`) is in `credentials_file`."""
    token_file = token_dir / f"{name}.token"
    current = creds.load_or_empty(credentials_file)
    if token_file.exists():
        proven = creds.match(current, token_file.read_text().strip())
        if proven is not None and proven.name == name and proven.role == role:
            return XdsCredential(name, token_file)
    token = creds.new_token()
    creds.write_private(token_file, token + "\n")
    others = tuple(c for c in current if c.name != name)
    creds.save(credentials_file, creds.added(others, name, role, token))
    return XdsCredential(name, token_file)


def node_credentials(credentials_file: Path, token_dir: Path, node: str) -> NodeCredentials:
    """Envoy's credential `node` and the sidecars' `node-sidecars`."""
    return NodeCredentials(
        envoy=ensure_credential(credentials_file, token_dir, node, "envoy"),
        sidecars=ensure_credential(credentials_file, token_dir, f"{node}-sidecars", "sidecar"),
    )
