"""The collector's settings from the environment: defaults, the required file, bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from accesslog.errors import ConfigurationError
from accesslog.settings import Settings

pytestmark = pytest.mark.pure

BASE = {"TOLLGATE_XDS_CREDENTIALS": "/etc/tollgate/xds-credentials.json"}


def test_defaults_listen_on_loopback_and_share_the_sidecars_redis() -> None:
    settings = Settings.from_env(BASE)
    assert (settings.address, settings.port, settings.metrics_port) == ("127.0.0.1", 18006, 18007)
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.credentials_file == Path("/etc/tollgate/xds-credentials.json")
    assert settings.flush_interval == 2.0
    assert settings.max_message_bytes == 4 * 1024 * 1024


def test_the_environment_overrides_each_default() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "TOLLGATE_ACCESSLOG_ADDRESS": "0.0.0.0",
            "TOLLGATE_ACCESSLOG_PORT": "0",
            "TOLLGATE_ACCESSLOG_METRICS_PORT": "0",
            "TOLLGATE_REDIS_URL": "redis://10.0.0.1:6379/3",
            "TOLLGATE_ACCESSLOG_FLUSH_INTERVAL": "0.5",
            "TOLLGATE_ACCESSLOG_MAX_PENDING_DIMS": "10",
            "TOLLGATE_ACCESSLOG_MAX_STREAMS_PER_CREDENTIAL": "4",
        }
    )
    assert (settings.address, settings.port, settings.metrics_port) == ("0.0.0.0", 0, 0)
    assert settings.redis_url == "redis://10.0.0.1:6379/3"
    assert settings.flush_interval == 0.5
    assert settings.max_pending_dims == 10
    assert settings.max_streams_per_credential == 4


def test_without_the_credentials_file_it_does_not_start() -> None:
    with pytest.raises(ConfigurationError, match="TOLLGATE_XDS_CREDENTIALS"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOLLGATE_ACCESSLOG_PORT", "http"),
        ("TOLLGATE_ACCESSLOG_PORT", "70000"),
        ("TOLLGATE_ACCESSLOG_FLUSH_INTERVAL", "0"),
        ("TOLLGATE_ACCESSLOG_FLUSH_INTERVAL", "soon"),
        ("TOLLGATE_ACCESSLOG_MAX_PENDING_DIMS", "0"),
    ],
)
def test_an_unusable_value_is_refused_with_its_name(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({**BASE, name: value})
