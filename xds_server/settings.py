"""xds_server's settings: one frozen object read from the environment, each with a default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    # Address the ADS gRPC server listens on; loopback unless deployed otherwise.
    address: str = "127.0.0.1"
    # Port of the ADS gRPC server (Envoy's bootstrap and the sidecars point here).
    port: int = 18000
    # Base URL of mgmt, for /internal/xds/snapshot and /internal/xds/events.
    mgmt_url: str = "http://127.0.0.1:8000"
    # Bearer token for mgmt's internal endpoints; kept out of repr so it is never logged.
    internal_token: str = field(default="tollgate-dev-internal-token", repr=False)
    # Where the last good snapshot is kept, so a restart serves it even with mgmt down.
    state_dir: Path = Path("var/xds")
    # Seconds between polls of mgmt for a new snapshot when mgmt answers at once.
    poll_interval: float = 0.2
    # Seconds mgmt may hold a poll until a newer snapshot is published (mgmt allows 30);
    # 0: plain polling.
    long_poll: float = 25.0
    # Seconds that open streams get to finish on SIGTERM before they are cancelled.
    shutdown_grace: float = 5.0
    # The nodes' credentials (python -m xds_server.credentials); re-read when it changes.
    # Required: xds_server refuses to start without it.
    credentials_file: Path | None = None
    # Largest request a client may send; bigger ones end its stream (RESOURCE_EXHAUSTED).
    max_message_bytes: int = 4 * 1024 * 1024
    # Most resource names in one request (EDS/RDS); 10,000 take about 5 ms to take in.
    max_resource_names: int = 10_000
    # Open ADS streams per credential (an Envoy holds 1; a node's sidecars 1 each).
    max_streams_per_credential: int = 8
    # Prometheus /metrics, on `address`; 0 turns it off.
    metrics_port: int = 18008
    # The key that opens the TLS private keys sealed in snapshots (mgmt holds the same file).
    # Without it, a snapshot carrying certificates is refused.
    secrets_key_file: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        d = cls()
        return cls(
            address=env.get("TOLLGATE_XDS_ADDRESS", d.address),
            port=int(env.get("TOLLGATE_XDS_PORT", d.port)),
            mgmt_url=env.get("TOLLGATE_MGMT_URL", d.mgmt_url).rstrip("/"),
            internal_token=env.get("TOLLGATE_INTERNAL_TOKEN", d.internal_token),
            state_dir=Path(env.get("TOLLGATE_XDS_STATE_DIR", str(d.state_dir))),
            poll_interval=float(env.get("TOLLGATE_XDS_POLL_INTERVAL", d.poll_interval)),
            long_poll=float(env.get("TOLLGATE_XDS_LONG_POLL", d.long_poll)),
            shutdown_grace=float(env.get("TOLLGATE_XDS_SHUTDOWN_GRACE", d.shutdown_grace)),
            credentials_file=Path(raw) if (raw := env.get("TOLLGATE_XDS_CREDENTIALS")) else None,
            max_message_bytes=int(env.get("TOLLGATE_XDS_MAX_MESSAGE_BYTES", d.max_message_bytes)),
            max_resource_names=int(
                env.get("TOLLGATE_XDS_MAX_RESOURCE_NAMES", d.max_resource_names)
            ),
            max_streams_per_credential=int(
                env.get("TOLLGATE_XDS_MAX_STREAMS_PER_CREDENTIAL", d.max_streams_per_credential)
            ),
            metrics_port=int(env.get("TOLLGATE_XDS_METRICS_PORT", d.metrics_port)),
            secrets_key_file=Path(raw) if (raw := env.get("TOLLGATE_SECRETS_KEY_FILE")) else None,
        )
