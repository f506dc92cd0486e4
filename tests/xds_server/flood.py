"""A hostile ADS flood and a resident-size sampler, for the tests that measure xds_server."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from envoy.service.discovery.v3 import discovery_pb2

from xds_server import type_urls

ADS_METHOD = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
FLOOD_NAMES = 2_000_000


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class RssSampler:
    """The peak resident size of one process, sampled every 20 ms on a thread."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@contextmanager
def flood(target: str, token: str | None, node_id: str, streams: int = 4) -> Iterator[list[str]]:
    """`streams` threads, each opening ADS streams that subscribe EDS to 2,000,000 names,
    again as soon as the server ends one; yields the status codes seen so far."""
    req = discovery_pb2.DiscoveryRequest(
        type_url=type_urls.ENDPOINT,
        resource_names=[f"cluster-{i:07d}" for i in range(FLOOD_NAMES)],
    )
    req.node.id = node_id
    payload = req.SerializeToString()  # ~30 MB, serialized once
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    codes: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with grpc.insecure_channel(
            target, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
        ) as channel:
            ads: Any = channel.stream_stream(
                ADS_METHOD, request_serializer=None, response_deserializer=None
            )
            while not stop.is_set():
                call = ads(iter([payload] * 3), metadata=metadata, timeout=10)
                try:
                    for _ in call:
                        pass
                    codes.append("OK")
                except grpc.RpcError as error:
                    codes.append(error.code().name)

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(streams)]
    for thread in threads:
        thread.start()
    try:
        yield codes
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
