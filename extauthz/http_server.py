"""Envoy's HTTP ext_authz transport: an asyncio protocol over httptools, on uvloop, that hands
each request's wanted headers to the decision and writes the answer it returns as is.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from typing import Final, cast

import httptools
import uvloop

from extauthz.problems import CONTENT_TYPE, Problem

Headers = dict[str, str]
# Gets only the wanted headers (lower-case names, UTF-8 values, first occurrence wins) and
# returns the complete serialized response, or an awaitable of it when deciding needs I/O.
Handler = Callable[[Headers], bytes | Awaitable[bytes]]
# Called once per request the handler failed on (answered 500): metrics count them.
OnFailure = Callable[[], None]

log = logging.getLogger(__name__)

# Answers waiting on one connection beyond this stop reading from it; Envoy sends one request
# at a time per connection, so only a misbehaving peer ever gets near it.
MAX_PENDING: Final = 32

_BREAKS_LINE: Final = frozenset("\r\n\0")
_BREAKS_NAME: Final = frozenset(":\r\n\0 \t")
_FRAMING: Final = frozenset({"content-length", "transfer-encoding"})


def response(
    status: int, reason: str, headers: Iterable[tuple[str, str]], body: bytes = b""
) -> bytes:
    """A complete HTTP/1.1 response with its content-length, to build once and return per request.

    Raises ValueError for anything that would let a value split the response (CR, LF) or frame
    it twice (a content-length or transfer-encoding of the caller's own).
    """
    if not 200 <= status <= 599:
        raise ValueError(f"an ext_authz answer is a final response, not {status}")
    if _BREAKS_LINE & set(reason):
        raise ValueError("the reason phrase holds a line break")
    lines = [f"HTTP/1.1 {status} {reason}"]
    for name, value in headers:
        if not name or _BREAKS_NAME & set(name) or _BREAKS_LINE & set(value):
            raise ValueError(f"header {name!r} has a malformed name or value")
        if name.lower() in _FRAMING:
            raise ValueError(f"{name} is set from the body, not by the caller")
        lines.append(f"{name}: {value}")
    lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _closing_answer(problem: Problem) -> bytes:
    headers = [
        ("content-type", CONTENT_TYPE),
        ("cache-control", "no-store"),
        ("connection", "close"),
    ]
    return response(problem.status, HTTPStatus(problem.status).phrase, headers, problem.body)


_MALFORMED: Final = _closing_answer(
    Problem("malformed-request", 400, "Malformed request", "The request is not valid HTTP/1.1.")
)
_UPGRADE: Final = _closing_answer(
    Problem(
        "upgrade-not-supported",
        400,
        "Upgrade not supported",
        "The authorization service answers plain HTTP/1.1 requests only: no Upgrade, no CONNECT.",
    )
)
_HEADERS_TOO_LARGE: Final = _closing_answer(
    Problem(
        "request-headers-too-large",
        431,
        "Request headers too large",
        "The request's header section is larger than the authorization service accepts.",
    )
)
_FAILED: Final = _closing_answer(
    Problem(
        "authorization-failed",
        500,
        "Authorization failed",
        "The authorization service failed while deciding on this request.",
    )
)


class _Stop(Exception):
    """Raised from a parser callback to stop parsing: the connection's last answer is queued."""


class _Connection(asyncio.Protocol):
    """One connection from Envoy; the parser calls the `on_*` methods back from `feed_data`.

    Answers are written in request order: a ready answer goes straight to the transport when
    nothing is waiting before it, otherwise it queues behind the awaitables still deciding.
    """

    __slots__ = (
        "_closing",
        "_handler",
        "_header_bytes",
        "_headers",
        "_lost",
        "_max_header_bytes",
        "_messages",
        "_on_failure",
        "_parser",
        "_queue",
        "_raw_header_bytes",
        "_read_paused",
        "_sections",
        "_too_large",
        "_transport",
        "_wanted",
        "_write_paused",
    )

    _transport: asyncio.Transport

    def __init__(
        self,
        handler: Handler,
        wanted: dict[bytes, str],
        max_header_bytes: int,
        on_failure: OnFailure,
    ) -> None:
        self._handler = handler
        self._on_failure = on_failure
        self._wanted = wanted
        self._max_header_bytes = max_header_bytes
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[bytes | asyncio.Future[bytes]] = deque()
        self._headers: Headers = {}
        self._header_bytes = 0  # names + values of the current request, counted exactly
        self._raw_header_bytes = 0  # see data_received
        self._sections = 0  # header sections complete; equal to _messages between them
        self._messages = 0  # requests complete
        self._too_large = False
        self._closing = False  # the last answer is queued: read nothing more
        self._lost = False
        self._read_paused = False
        self._write_paused = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport has asyncio.Transport's methods but is not its subclass.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        sections = self._sections
        inside = sections == self._messages
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            # A _Stop comes back as a callback error, after its answer was queued.
            if not self._closing:
                self._finish(_HEADERS_TOO_LARGE if self._too_large else _MALFORMED)
            return
        # The parser keeps an unfinished header line to itself until it ends, so on_header
        # cannot bound it. Reads that begin and end inside one header section are all header
        # bytes: counting them raw catches a line that never ends. The bound is twice the
        # limit to leave room for the request line and separators, which on_header skips.
        if self._sections != sections:
            self._raw_header_bytes = 0
        elif inside:
            self._raw_header_bytes += len(data)
            if self._raw_header_bytes > 2 * self._max_header_bytes:
                self._finish(_HEADERS_TOO_LARGE)
                return
        if len(self._queue) > MAX_PENDING:
            self._pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._closing = True
        for pending in self._queue:
            if not isinstance(pending, bytes):
                pending.cancel()
        self._queue.clear()

    def pause_writing(self) -> None:
        self._write_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._maybe_resume_reading()

    # httptools callbacks. No on_url, on_body or on_chunk_*: the parser then skips the path and
    # any body in C, and each callback it need not make saves a Python call per request.

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > self._max_header_bytes:
            self._too_large = True
            raise _Stop
        key = self._wanted.get(name.lower())
        if key is not None and key not in self._headers:
            # UTF-8, as a claim is: gRPC delivers the same text. Bytes that are not UTF-8
            # become surrogates, which match no stored id and nothing ASCII.
            self._headers[key] = value.decode("utf-8", "surrogateescape")

    def on_headers_complete(self) -> None:
        self._sections += 1

    def on_message_complete(self) -> None:
        self._messages += 1
        headers = self._headers
        self._headers = {}
        self._header_bytes = 0
        parser = self._parser
        if parser.should_upgrade():
            # The bytes after an upgrade are another protocol: nothing here can read them.
            self._finish(_UPGRADE)
            raise _Stop
        try:
            answer = self._handler(headers)
            if isinstance(answer, bytes):
                if self._queue:
                    self._queue.append(answer)
                else:
                    self._transport.write(answer)
            else:
                pending = asyncio.ensure_future(answer)
                self._queue.append(pending)
                pending.add_done_callback(self._answered)
        except Exception as exc:
            # The type only: a message or traceback may quote headers, and they carry API keys.
            log.error("ext_authz handler raised %s; answering 500", type(exc).__name__)
            self._on_failure()
            self._finish(_FAILED)
            raise _Stop from None
        if not parser.should_keep_alive():
            self._close_when_written()
            raise _Stop

    # Writing in order

    def _answered(self, _done: asyncio.Future[bytes]) -> None:
        """Writes the answers at the head of the queue that are ready, in order."""
        if self._lost:
            return
        queue = self._queue
        transport = self._transport
        while queue:
            head = queue[0]
            if isinstance(head, bytes):
                transport.write(head)
            elif not head.done():
                break
            else:
                try:
                    answer = head.result()
                    if not isinstance(answer, bytes):
                        raise TypeError(f"the handler's awaitable gave {type(answer).__name__}")
                except (Exception, asyncio.CancelledError) as exc:
                    log.error("ext_authz handler raised %s; answering 500", type(exc).__name__)
                    self._on_failure()
                    # Later answers are dropped rather than written out of order; the close
                    # fails their requests as any lost connection would.
                    queue.popleft()
                    for later in queue:
                        if not isinstance(later, bytes):
                            later.cancel()
                    queue.clear()
                    transport.write(_FAILED)
                    self._close_when_written()
                    return
                transport.write(answer)
            queue.popleft()
        if self._closing:
            self._close_when_written()
        else:
            self._maybe_resume_reading()

    def _finish(self, answer: bytes) -> None:
        """Queues the connection's last answer; the connection closes once it is written."""
        if self._queue:
            self._queue.append(answer)
        else:
            self._transport.write(answer)
        self._close_when_written()

    def _close_when_written(self) -> None:
        self._closing = True
        if not self._queue:
            # close() still sends what the transport holds before it closes the socket.
            self._transport.close()
        else:
            self._pause_reading()

    # Flow control: a peer that does not read its answers stops being read, so neither the
    # transport's buffer nor the queue grows past one read's worth of requests.

    def _pause_reading(self) -> None:
        if not self._read_paused:
            self._read_paused = True
            self._transport.pause_reading()

    def _maybe_resume_reading(self) -> None:
        if (
            self._read_paused
            and not self._write_paused
            and not self._closing
            and len(self._queue) <= MAX_PENDING
        ):
            self._read_paused = False
            self._transport.resume_reading()


async def serve_http(
    handler: Handler,
    *,
    host: str,
    port: int,
    wanted: Iterable[str],
    max_header_bytes: int = 65536,
    on_failure: OnFailure | None = None,
) -> asyncio.Server:
    """Starts listening on host:port (0 picks a free port) and returns the started server.

    `wanted` names the headers the handler gets (any case); every other header is skipped.
    `on_failure` is called for each request the handler raised on (answered 500).
    """
    if max_header_bytes < 1:
        raise ValueError(f"max_header_bytes must be positive, got {max_header_bytes}")
    lookup = {name.lower().encode("latin-1"): name.lower() for name in wanted}
    failed = on_failure or _nothing
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: _Connection(handler, lookup, max_header_bytes, failed), host, port
    )


def _nothing() -> None:
    pass


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop: its C transports are what keep a request within microseconds."""
    return uvloop.new_event_loop()
