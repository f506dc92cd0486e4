"""The sidecar's settings: one frozen object, read once from the environment."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from extauthz.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Settings:
    # Interface the Check and health services listen on (loopback: Envoy runs beside us).
    address: str = "127.0.0.1"
    # Port of the Check and health services; 0 picks a free port (tests).
    port: int = 18001
    # host:port of xds_server, where credentials and applications are streamed from.
    xds_target: str = "127.0.0.1:18000"
    # Threads answering Check; each Check is a few microseconds of Python.
    workers: int = 16

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            address=env.get("TOLLGATE_EXTAUTHZ_ADDRESS", defaults.address),
            port=_int(env, "TOLLGATE_EXTAUTHZ_PORT", defaults.port, minimum=0, maximum=65535),
            xds_target=env.get("TOLLGATE_XDS_TARGET", defaults.xds_target),
            workers=_int(env, "TOLLGATE_EXTAUTHZ_WORKERS", defaults.workers, minimum=1),
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
