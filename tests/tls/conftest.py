"""A sealing key of the test's own, as mgmt and xds_server share one in a deployment."""

from pathlib import Path
from typing import Any

import pytest

from xds_server import sealing


@pytest.fixture
def sealing_key_file(settings: Any, tmp_path: Path) -> Path:
    path = tmp_path / "secrets.key"
    path.write_text(sealing.new_key_text())
    settings.TOLLGATE_SECRETS_KEY_FILE = path
    return path
