"""The collector's settings: one frozen object, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from accesslog.errors import ConfigurationError
from xds_server.credentials import CREDENTIALS_ENV


@dataclass(frozen=True, slots=True)
class Settings:
    # Interface the AccessLogService listens on (loopback: Envoy runs beside us).
    address: str = "127.0.0.1"
    # Port of envoy.service.accesslog.v3.AccessLogService; 0 picks a free port (tests).
    port: int = 18006
    # Prometheus /metrics; 0 turns it off.
    metrics_port: int = 18007
    # Where the per-minute usage hashes go (the same Redis as the sidecars' counters).
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Per Redis call; a flush that times out is retried on the next one, never counted twice.
    redis_timeout_ms: int = 2000
    # xds_server's credentials file: an Envoy proves itself with its xDS token. Required.
    credentials_file: Path | None = None
    # Seconds between two writes to Redis (and between re-reads of the credentials file).
    flush_interval: float = 2.0
    # (minute, dims) cells kept while Redis is unreachable; beyond it the oldest minutes go.
    max_pending_dims: int = 200_000
    # Largest StreamAccessLogsMessage (Envoy sends 16 KiB batches by default).
    max_message_bytes: int = 4 * 1024 * 1024
    # Open streams per credential: an Envoy opens one per worker thread (--concurrency).
    max_streams_per_credential: int = 64
    # Seconds that open streams get to end on SIGTERM before the final flush.
    shutdown_grace: float = 2.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        d = cls()
        raw_credentials = env.get(CREDENTIALS_ENV, "").strip()
        if not raw_credentials:
            raise ConfigurationError(
                f"{CREDENTIALS_ENV} is not set: give xds_server's credentials file "
                "(the collector authenticates Envoys with their xDS tokens)"
            )
        return cls(
            address=env.get("TOLLGATE_ACCESSLOG_ADDRESS", d.address),
            port=_int(env, "TOLLGATE_ACCESSLOG_PORT", d.port, minimum=0, maximum=65535),
            metrics_port=_int(
                env, "TOLLGATE_ACCESSLOG_METRICS_PORT", d.metrics_port, minimum=0, maximum=65535
            ),
            redis_url=env.get("TOLLGATE_REDIS_URL", d.redis_url),
            redis_timeout_ms=_int(
                env, "TOLLGATE_ACCESSLOG_REDIS_TIMEOUT_MS", d.redis_timeout_ms, minimum=1
            ),
            credentials_file=Path(raw_credentials),
            flush_interval=_float(env, "TOLLGATE_ACCESSLOG_FLUSH_INTERVAL", d.flush_interval),
            max_pending_dims=_int(
                env, "TOLLGATE_ACCESSLOG_MAX_PENDING_DIMS", d.max_pending_dims, minimum=1
            ),
            max_message_bytes=_int(
                env, "TOLLGATE_ACCESSLOG_MAX_MESSAGE_BYTES", d.max_message_bytes, minimum=1024
            ),
            max_streams_per_credential=_int(
                env,
                "TOLLGATE_ACCESSLOG_MAX_STREAMS_PER_CREDENTIAL",
                d.max_streams_per_credential,
                minimum=1,
            ),
            shutdown_grace=_float(env, "TOLLGATE_ACCESSLOG_SHUTDOWN_GRACE", d.shutdown_grace),
        )


def _int(
    env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int | None = None
) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigurationError(f"{name} must be {bounds}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value < 3600:
        raise ConfigurationError(f"{name} must be between 0 and 3600 seconds, got {value}")
    return value
