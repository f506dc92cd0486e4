"""The demo upstream: answers every request with JSON of what it received (method, path, headers).

Two query parameters make it misbehave on purpose, to see errors and latency in the
analytics: `status=503` answers with that status (200-599), `delay_ms=200` answers after
that long (at most 10 s).

`python -m mgmt.embedded.demo_upstream --port 9000 [--name NAME] [--tls-cert F --tls-key F
[--tls-client-ca F]]`: with a certificate it serves HTTPS, and says which server name (SNI)
and TLS version each request came over; with a client CA it requires a client certificate
issued by it (mTLS), and says whose it was (its subject).
"""

import argparse
import json
import socket
import ssl
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final
from urllib.parse import parse_qs, urlsplit

from cryptography import x509

_MAX_DELAY_MS: Final = 10_000


def _asked(path: str) -> tuple[int, float]:
    """The status and the delay (seconds) a request's query asks for; 200 and none otherwise."""
    query = parse_qs(urlsplit(path).query)
    status, delay = 200, 0.0
    value = query.get("status", [""])[0]
    if value.isascii() and value.isdigit() and 200 <= int(value) <= 599:
        status = int(value)
    value = query.get("delay_ms", [""])[0]
    if value.isascii() and value.isdigit() and len(value) < 6:
        delay = min(int(value), _MAX_DELAY_MS) / 1000
    return status, delay


class EchoHandler(BaseHTTPRequestHandler):
    server_version = "TollgateDemo/1"
    protocol_version = "HTTP/1.1"
    upstream_name = "demo"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        payload = json.dumps(
            {
                "upstream": self.upstream_name,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_bytes": len(body),
                **_tls_of(self.connection),
            }
        ).encode()
        status, delay = _asked(self.path)
        if delay:
            time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the gateway's own logs tell who called."""


def _tls_of(connection: object) -> dict[str, object]:
    if not isinstance(connection, ssl.SSLSocket):
        return {}
    der = connection.getpeercert(binary_form=True)
    # The subject as mgmt shows it (RFC 4514), to compare with what was uploaded there.
    client = x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None
    return {
        "tls": {
            "sni": getattr(connection, "sni", None),
            "version": connection.version(),
            "client_subject": client,
        }
    }


def _remember_sni(sock: ssl.SSLSocket | ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
    sock.sni = name  # type: ignore[union-attr]  # read back by _tls_of


class TlsHTTPServer(ThreadingHTTPServer):
    """HTTPS: each connection's handshake runs in its own thread, on its first read."""

    context: ssl.SSLContext

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--name", default="demo")
    parser.add_argument("--tls-cert", help="PEM chain: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca", help="PEM CA(s): require a client certificate they issued (mTLS)"
    )
    args = parser.parse_args()
    EchoHandler.upstream_name = args.name
    server: ThreadingHTTPServer
    if args.tls_cert:
        server = TlsHTTPServer((args.host, args.port), EchoHandler)
        # Not create_default_context: it would trust the system's CAs for client certificates.
        server.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.context.load_cert_chain(args.tls_cert, args.tls_key)
        server.context.sni_callback = _remember_sni
        if args.tls_client_ca:
            server.context.verify_mode = ssl.CERT_REQUIRED
            server.context.load_verify_locations(cafile=args.tls_client_ca)
    else:
        server = ThreadingHTTPServer((args.host, args.port), EchoHandler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
