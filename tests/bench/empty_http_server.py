"""The floor for any HTTP ext_authz sidecar: answers every request 200 with no work at all.

`python -m tests.bench.empty_http_server PORT`; the benchmark puts it behind Envoy's HTTP
ext_authz to show what asyncio + uvloop + httptools cost before any decision is made.
"""

import asyncio
import sys
from typing import cast

import httptools
import uvloop

_ALLOW = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class _AllowAll(asyncio.Protocol):
    """One connection from Envoy. Answers are 38 bytes, so writes never need flow control."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but are one.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._transport.write(_BAD_REQUEST)
            self._transport.close()

    # httptools callback: a whole request has been read (Envoy sends no body to ext_authz).
    def on_message_complete(self) -> None:
        assert self._transport is not None
        self._transport.write(_ALLOW)
        if not self._parser.should_keep_alive():
            self._transport.close()


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_AllowAll, "127.0.0.1", port)
    await server.serve_forever()


def main() -> None:
    uvloop.run(_serve(int(sys.argv[1])))


if __name__ == "__main__":
    main()
