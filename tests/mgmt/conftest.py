"""Management tests commit row after row to build their worlds: publishing each commit at
once (TOLLGATE_PUBLISH_GAP_MS = 0) keeps "one commit, one publication" and saves the
gaps (about 1.3 s a test at the 250 ms default). Coalescing has tests of its own that set
the gap (test_coalescing.py, test_publishing_coalesced.py)."""

from typing import Any

import pytest

from mgmt.gateway import publishing
from mgmt.gateway.models import Snapshot


@pytest.fixture(autouse=True)
def _publish_without_a_gap(settings: Any) -> None:
    settings.TOLLGATE_PUBLISH_GAP_MS = 0


@pytest.fixture
def publish_calls(monkeypatch: pytest.MonkeyPatch) -> list[Snapshot]:
    """Every publication that compiled the rows after a commit, whether or not it stored a
    new snapshot."""
    calls: list[Snapshot] = []
    real = publishing.publish_snapshot

    def counting() -> Snapshot:
        calls.append(real())
        return calls[-1]

    monkeypatch.setattr(publishing, "publish_snapshot", counting)
    return calls
