"""A tiny HTTP client for the gateway: raw headers in, status, headers and JSON out."""

import http.client
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    # Every header line as sent, repeated names included (Link may come several times).
    header_lines: tuple[tuple[str, str], ...] = ()

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.header_lines if key == name]

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    timeout: float = 5.0,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        lines = tuple((k.lower(), v) for k, v in response.getheaders())
        return Reply(response.status, dict(lines), response.read(), lines)
    finally:
        conn.close()


def raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Sends bytes as they are (for malformed requests) and returns what came back."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)
