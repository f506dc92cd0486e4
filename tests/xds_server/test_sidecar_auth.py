"""The sidecars' ADS client against the real xds_server: its token opens the stream."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.xds_server.helpers import SIDECAR_TOKEN, credential_store, make_snapshot
from xds_server import type_urls
from xds_server.cache import DEFAULT_GROUP, SnapshotCache, XdsEvent
from xds_server.server import create_server
from xds_server.sidecar_client import SidecarXdsClient


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, list[XdsEvent]]]:
    """A real xds_server on its own event loop thread; yields its port and its events."""
    events: list[XdsEvent] = []
    ready = threading.Event()
    port: list[int] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        cache = SnapshotCache(on_event=events.append)
        cache.set_snapshot(DEFAULT_GROUP, make_snapshot("v1", credential_shards=("credentials/0",)))
        store = credential_store(tmp_path / "credentials.json")
        grpc_server, bound, _ = create_server(cache, address="127.0.0.1", port=0, credentials=store)
        await grpc_server.start()
        port.append(bound)
        ready.set()
        await stop.wait()
        await grpc_server.stop(0)

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield port[0], events
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def _client(port: int, token: str, applied: list[list[bytes]]) -> SidecarXdsClient:
    return SidecarXdsClient(
        {type_urls.CREDENTIAL_SHARD: applied.append},
        f"127.0.0.1:{port}",
        node_id="sidecar-1/extauthz-test",
        token=token,
    )


def _wait(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_sidecar_with_its_token_gets_its_shards_and_acks_as_its_node(
    server: tuple[int, list[XdsEvent]],
) -> None:
    port, events = server
    applied: list[list[bytes]] = []
    client = _client(port, SIDECAR_TOKEN, applied)
    client.start()
    try:
        assert _wait(lambda: len(events) == 1)
    finally:
        client.stop()
    assert len(applied) == 1 and len(applied[0]) == 1
    assert [(e.kind, e.node_id) for e in events] == [("ack", "sidecar-1/extauthz-test")]


def test_sidecar_with_a_wrong_token_gets_nothing_and_keeps_retrying(
    server: tuple[int, list[XdsEvent]], caplog: pytest.LogCaptureFixture
) -> None:
    port, events = server
    applied: list[list[bytes]] = []
    wrong = "tgx_wrong-token-wrong-token-wrong-token-wrong-token"
    client = _client(port, wrong, applied)
    client.start()
    try:
        assert _wait(lambda: "UNAUTHENTICATED" in caplog.text)
        time.sleep(0.5)
    finally:
        client.stop()
    assert applied == []
    assert events == []
    assert wrong not in caplog.text
