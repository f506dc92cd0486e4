"""One delivery attempt against real receivers on loopback: plain HTTP servers in a thread,
and one TLS server with a certificate made for the test by `openssl`."""

import contextlib
import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from mgmt.billing.webhook_sender import DeliveryResult, deliver
from mgmt.billing.webhook_signing import headers, new_secret, verify
from mgmt.billing.webhook_urls import ResolvedTarget, validate_webhook_url

BODY = b'{"type":"invoice.finalized","data":{"id":"inv_1"}}'
TIMESTAMP = 1_700_000_000


@dataclass
class Received:
    """What the receiver saw: one entry per request, in order."""

    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver whose behaviour is chosen by the request path."""

    received: ClassVar[Received]
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.received.paths.append(self.path)
        self.received.headers.append({name.lower(): value for name, value in self.headers.items()})
        self.received.bodies.append(self.rfile.read(length))
        # The sender hanging up early is what several tests provoke.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            getattr(self, "answer_" + self.path.strip("/").split("?")[0])()

    def _reply(self, status: int, body: bytes, **extra: str) -> None:
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def answer_ok(self) -> None:
        self._reply(200, b"thanks")

    def answer_fail(self) -> None:
        self._reply(500, b"database is down")

    def answer_redirect(self) -> None:
        self._reply(302, b"", location="/ok")

    def answer_slow(self) -> None:
        time.sleep(1.5)
        self._reply(200, b"too late")

    def answer_endless(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("connection", "close")
        self.end_headers()
        while True:
            self.wfile.write(b"x" * 65536)

    def answer_trickle_body(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "1000000")
        self.end_headers()
        for _ in range(100):
            self.wfile.write(b"y")
            self.wfile.flush()
            time.sleep(0.05)

    def answer_trickle_headers(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(100):
            self.wfile.write(b"X-Slow: 1\r\n")
            self.wfile.flush()
            time.sleep(0.05)

    def answer_garbage(self) -> None:
        self.wfile.write(b"HELLO THERE\r\n\r\n")
        self.close_connection = True

    def answer_bad_chunks(self) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n")
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a sender cutting a slow answer short is what these tests provoke


@dataclass
class Running:
    server: QuietServer
    received: Received

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def target(self, path: str, *, host: str = "127.0.0.1", scheme: str = "http") -> ResolvedTarget:
        return ResolvedTarget(scheme=scheme, host=host, port=self.port, path=path, ip="127.0.0.1")


def serve(tls: ssl.SSLContext | None = None) -> Iterator[Running]:
    received = Received()
    handler = type("BoundReceiver", (Receiver,), {"received": received})
    server = QuietServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Running(server, received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Running]:
    yield from serve()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for receiver.test (and nothing else)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=receiver.test", "-addext", "subjectAltName=DNS:receiver.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_receiver(certificate: tuple[Path, Path]) -> Iterator[Running]:
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(*certificate)
    yield from serve(server_side)


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    return context


def signed(secret: str) -> dict[str, str]:
    return headers(secret, "msg_1", TIMESTAMP, BODY)


def test_200_is_delivered_with_body_and_verifiable_signature(receiver: Running) -> None:
    secret = new_secret()
    target = validate_webhook_url(
        f"http://127.0.0.1:{receiver.port}/ok", allow_private=True, resolve=socket.getaddrinfo
    )
    result = deliver(target, signed(secret), BODY)
    assert (result.status, result.error, result.response_excerpt) == (200, "", "thanks")
    assert 0 <= result.duration_ms < 2000
    assert receiver.received.bodies == [BODY]
    seen = receiver.received.headers[0]
    assert seen["content-type"] == "application/json"
    assert seen["content-length"] == str(len(BODY))
    assert verify([secret], seen, receiver.received.bodies[0], now=TIMESTAMP)


def test_connection_goes_to_the_pinned_address_with_the_original_host(receiver: Running) -> None:
    # receiver.invalid cannot resolve: only the pinned address can have been used.
    result = deliver(receiver.target("/ok", host="receiver.invalid"), signed(new_secret()), BODY)
    assert result.status == 200
    assert receiver.received.headers[0]["host"] == f"receiver.invalid:{receiver.port}"


def test_500_is_reported_with_the_receivers_explanation(receiver: Running) -> None:
    result = deliver(receiver.target("/fail"), signed(new_secret()), BODY)
    assert (result.status, result.error) == (500, "")
    assert result.response_excerpt == "database is down"


def test_redirect_is_not_followed(receiver: Running) -> None:
    result = deliver(receiver.target("/redirect"), signed(new_secret()), BODY)
    assert result.status == 302
    assert "redirect not followed" in result.error
    assert receiver.received.paths == ["/redirect"]


def test_receiver_slower_than_the_timeout_is_an_error_not_an_exception(
    receiver: Running,
) -> None:
    started = time.monotonic()
    result = deliver(receiver.target("/slow"), signed(new_secret()), BODY, timeout_s=0.5)
    assert time.monotonic() - started < 1.2
    assert result.status is None
    assert result.error.startswith("timed out")
    assert 400 <= result.duration_ms < 1200


def test_endless_body_is_read_only_up_to_the_cap(receiver: Running) -> None:
    started = time.monotonic()
    result = deliver(
        receiver.target("/endless"), signed(new_secret()), BODY, max_response_bytes=100
    )
    assert time.monotonic() - started < 2
    assert (result.status, result.error) == (200, "")
    assert result.response_excerpt == "x" * 100


def test_oversized_body_under_the_default_cap_gives_a_short_excerpt(receiver: Running) -> None:
    result = deliver(receiver.target("/endless"), signed(new_secret()), BODY, timeout_s=5)
    assert (result.status, result.error) == (200, "")
    assert result.response_excerpt == "x" * 1000
    assert result.duration_ms < 4000


def test_trickling_body_is_cut_at_the_deadline_keeping_the_status(receiver: Running) -> None:
    result = deliver(receiver.target("/trickle_body"), signed(new_secret()), BODY, timeout_s=0.5)
    assert result.status == 200
    assert result.error == "timed out after 0.5 s"
    assert 0 < len(result.response_excerpt) < 20
    assert result.duration_ms < 1200


def test_trickling_headers_are_cut_at_the_deadline(receiver: Running) -> None:
    started = time.monotonic()
    result = deliver(receiver.target("/trickle_headers"), signed(new_secret()), BODY, timeout_s=0.5)
    assert time.monotonic() - started < 1.2
    # The status line did arrive: the receiver said 200 before it started dawdling.
    assert (result.status, result.error) == (200, "timed out after 0.5 s")
    assert result.duration_ms < 1200


@pytest.mark.parametrize("path", ["/garbage", "/bad_chunks"])
def test_garbage_answer_is_an_invalid_response(receiver: Running, path: str) -> None:
    result = deliver(receiver.target(path), signed(new_secret()), BODY, timeout_s=2)
    assert result.error.startswith("invalid HTTP response")


def test_closed_port_is_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = ResolvedTarget(scheme="http", host="127.0.0.1", port=port, path="/", ip="127.0.0.1")
    result = deliver(target, signed(new_secret()), BODY, timeout_s=2)
    assert result == DeliveryResult(
        status=None,
        error="connection refused (ConnectionRefusedError)",
        response_excerpt="",
        duration_ms=result.duration_ms,
    )


def test_https_to_a_plain_http_receiver_is_a_tls_error(receiver: Running) -> None:
    result = deliver(
        receiver.target("/ok", scheme="https"), signed(new_secret()), BODY, timeout_s=2
    )
    assert result.status is None
    assert result.error.startswith("TLS")


def test_https_verifies_the_certificate_against_the_original_host(
    tls_receiver: Running, certificate: tuple[Path, Path]
) -> None:
    target = tls_receiver.target("/ok", host="receiver.test", scheme="https")
    result = deliver(target, signed(new_secret()), BODY, tls_context=trusting(certificate))
    assert (result.status, result.error, result.response_excerpt) == (200, "", "thanks")
    assert tls_receiver.received.headers[0]["host"] == f"receiver.test:{tls_receiver.port}"


def test_https_refuses_a_certificate_for_another_host(
    tls_receiver: Running, certificate: tuple[Path, Path]
) -> None:
    target = tls_receiver.target("/ok", host="elsewhere.test", scheme="https")
    result = deliver(target, signed(new_secret()), BODY, tls_context=trusting(certificate))
    assert result.status is None
    assert result.error.startswith("TLS certificate not valid")
    assert tls_receiver.received.paths == []


def test_https_refuses_an_untrusted_certificate(tls_receiver: Running) -> None:
    target = tls_receiver.target("/ok", host="receiver.test", scheme="https")
    result = deliver(target, signed(new_secret()), BODY, timeout_s=2)
    assert result.error.startswith("TLS certificate not valid")


def test_result_never_carries_the_signature(receiver: Running) -> None:
    sent = signed(new_secret())
    for path in ("/ok", "/fail", "/garbage"):
        result = deliver(receiver.target(path), sent, BODY, timeout_s=2)
        assert sent["webhook-signature"].split(",", 1)[1] not in repr(result)
