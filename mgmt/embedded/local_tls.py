"""HTTPS out of the box for `make run`: a local CA made once per install, and a certificate
for localhost it signs, uploaded like any other (the same checks, sealed the same way).

The CA's key stays in var/tls/ (0600) and signs only this install's certificate; trust
var/tls/ca.pem in a client (curl --cacert) to call the gateway over HTTPS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mgmt.tls.forms import ServerCertificateForm
from mgmt.tls.local_ca import LocalCa, issue_server_certificate, new_local_ca
from mgmt.tls.models import ServerCertificate
from xds_server import sealing
from xds_server.credentials import write_private

CERTIFICATE_NAME = "local"
HOSTNAMES = ("localhost",)
# Issued again this long before it expires, at the next `make run`.
RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class LocalTls:
    ca_file: Path
    certificate: ServerCertificate


def install_sealing_key(var_dir: Path) -> Path:
    """TOLLGATE_SECRETS_KEY_FILE, or var/secrets.key made once (0600); in the environment
    the children inherit (mgmt seals with it, xds_server opens with it)."""
    given = os.environ.get("TOLLGATE_SECRETS_KEY_FILE")
    path = Path(given) if given else var_dir / "secrets.key"
    if not path.exists():
        write_private(path, sealing.new_key_text() + "\n")
    os.environ["TOLLGATE_SECRETS_KEY_FILE"] = str(path)
    return path


def _local_ca(tls_dir: Path, now: datetime) -> LocalCa:
    cert_file, key_file = tls_dir / "ca.pem", tls_dir / "ca.key"
    if cert_file.exists() and key_file.exists():
        return LocalCa(cert_pem=cert_file.read_text(), key_pem=key_file.read_text())
    ca = new_local_ca(now=now, name="Tollgate local CA (make run)")
    write_private(key_file, ca.key_pem)
    cert_file.write_text(ca.cert_pem)
    return ca


def ensure_local_certificate(var_dir: Path, *, now: datetime | None = None) -> LocalTls:
    """The local certificate, issued (or renewed) and uploaded when needed."""
    now = now or datetime.now(UTC)
    tls_dir = var_dir / "tls"
    ca = _local_ca(tls_dir, now)
    current = ServerCertificate.objects.filter(name=CERTIFICATE_NAME).first()
    # Pointed at files by hand: those are the operator's to renew, not overwritten here.
    if current is not None and (
        current.from_files
        or (current.not_after is not None and current.not_after - now > RENEW_BEFORE)
    ):
        return LocalTls(tls_dir / "ca.pem", current)
    chain, key = issue_server_certificate(ca, HOSTNAMES, now=now)
    form = ServerCertificateForm(
        data={
            "name": CERTIFICATE_NAME,
            "enabled": "on",
            "certificate_chain": chain,
            "private_key": key,
        },
        instance=current,
    )
    if not form.is_valid():
        raise RuntimeError(f"the local certificate was refused: {form.errors.as_text()}")
    return LocalTls(tls_dir / "ca.pem", form.save())
