"""One webhook delivery attempt over HTTP(S): a POST to the address the URL check pinned,
bounded in time and in what is read back. Every outcome is a DeliveryResult, never an
exception, so the caller only has to record it and consult the retry schedule.

The connection goes to `target.ip`, never to a fresh DNS answer; the Host header and the
TLS server name and certificate check use `target.host`. Redirects are not followed (one
could point anywhere, our own network included): a 3xx is a failed attempt. Headers are
sent, never logged or echoed into the result, since they carry the signatures.
"""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from mgmt.billing.webhook_urls import ResolvedTarget

USER_AGENT: Final = "Tollgate-Webhooks/1"
READ_CHUNK: Final = 8192
EXCERPT_CHARS: Final = 1000


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What one attempt came to, for the endpoint owner's delivery log.

    `status` is the receiver's status line, None when none arrived; it alone decides
    success (webhook_schedule.is_success): a receiver that said 200 has taken the event,
    even if the rest of its answer was then cut off. `error` says what went wrong, empty
    when the answer arrived in full and in time (a 3xx also gets one: redirects are not
    followed). `response_excerpt` is the start of the answer's body, decoded leniently."""

    status: int | None
    error: str
    response_excerpt: str
    duration_ms: int


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to a checked address, with `host` only in the Host header."""

    def __init__(self, target: ResolvedTarget, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._ip = target.ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to a checked address; the certificate is verified against `host`, sent as SNI."""

    def __init__(self, target: ResolvedTarget, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._ip = target.ip
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._ip, self.port), self.timeout)
        # The handshake runs after `sock` is set, so the attempt's deadline can cut it too.
        self.sock = self._tls.wrap_socket(
            raw, server_hostname=self.host, do_handshake_on_connect=False
        )
        self.sock.do_handshake()


class _Deadline:
    """Cuts the connection when the attempt's time is up. Socket timeouts alone bound each
    read, not the attempt: a receiver trickling one byte a second would never time out."""

    def __init__(self, seconds: float, connection: http.client.HTTPConnection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._over = False
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Once this returns the timer can no longer touch the socket, so closing it after
        # (and its descriptor being reused) is safe.
        with self._lock:
            self._over = True
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.expired = True
            sock = self._connection.sock
            if sock is not None:
                # The plain socket's shutdown wakes a read blocked in another thread; the
                # SSLSocket override would also drop its TLS state under that reader's feet.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


# Checked in order: the first class that matches names the failure.
_FAILURES: Final[tuple[tuple[type[BaseException], str], ...]] = (
    (TimeoutError, "timed out"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionError, "connection closed by the receiver"),
    (http.client.RemoteDisconnected, "connection closed by the receiver"),
    # ValueError: http.client's own verdict on a garbled chunk size.
    (http.client.HTTPException, "invalid HTTP response"),
    (ValueError, "invalid HTTP response"),
)


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not valid for this host: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or type(error).__name__}"
    for kind, message in _FAILURES:
        if isinstance(error, kind):
            return f"{message} ({type(error).__name__})"
    if isinstance(error, OSError) and error.strerror:
        return f"network error: {error.strerror}"
    return f"network error: {type(error).__name__}"


def _read_capped(response: http.client.HTTPResponse, limit: int) -> bytes:
    """At most `limit` bytes of the body; the rest is never read (the connection closes)."""
    received = bytearray()
    while len(received) < limit:
        chunk = response.read1(min(READ_CHUNK, limit - len(received)))
        if not chunk:
            break
        received += chunk
    return bytes(received)


def deliver(
    target: ResolvedTarget,
    headers: Mapping[str, str],
    body: bytes,
    *,
    timeout_s: float = 10.0,
    max_response_bytes: int = 64 * 1024,
    tls_context: ssl.SSLContext | None = None,
) -> DeliveryResult:
    """POST `body` with `headers` to `target`; the whole attempt (connect, TLS, request,
    answer, body) takes at most about `timeout_s`. `tls_context` defaults to the system's
    trust store with hostname checking; tests may pass their own."""
    started = time.monotonic()
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        context = tls_context or ssl.create_default_context()
        connection = _PinnedHTTPSConnection(target, timeout_s, context)
    else:
        connection = _PinnedHTTPConnection(target, timeout_s)
    request_headers = {"user-agent": USER_AGENT, **headers}
    status: int | None = None
    excerpt = b""
    error = ""
    try:
        with _Deadline(timeout_s, connection) as deadline:
            try:
                connection.request("POST", target.path, body=body, headers=request_headers)
                response = connection.getresponse()
                status = response.status
                excerpt = _read_capped(response, max_response_bytes)
            except (OSError, http.client.HTTPException, ValueError) as failure:
                error = _describe(failure)
    finally:
        connection.close()
    if deadline.expired:
        error = f"timed out after {timeout_s:g} s"
    if not error and status is not None and 300 <= status <= 399:
        error = "redirect not followed: update the endpoint URL instead"
    duration_ms = round((time.monotonic() - started) * 1000)
    text = excerpt.decode("utf-8", "replace")[:EXCERPT_CHARS]
    return DeliveryResult(
        status=status, error=error, response_excerpt=text, duration_ms=duration_ms
    )
