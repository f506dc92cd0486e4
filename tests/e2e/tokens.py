"""An external OAuth2 issuer for the end-to-end tests: RSA keys, a JWKS served over loopback
HTTP that can be rotated, broken or made to hang, and tokens signed (or forged) by hand."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class RsaKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, str]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "use": "sig",
            "n": _int(numbers.n),
            "e": _int(numbers.e),
        }

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def signed(key: RsaKey, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """RS256; `header` overrides the JOSE header's members (None leaves one out)."""
    head = {"alg": "RS256", "typ": "at+jwt", "kid": key.kid, **(header or {})}
    head = {k: v for k, v in head.items() if v is not None}
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def unsigned(claims: dict[str, Any]) -> str:
    """RFC 7519 §6's unsecured JWT: `alg: none`, empty signature."""
    head = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{head}.{b64url(json.dumps(claims).encode())}."


def hs256_with_public_key(key: RsaKey, claims: dict[str, Any]) -> str:
    """The key-confusion forgery: HMAC keyed with the issuer's public key (RFC 8725 §2.1)."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    signing_input = f"{head}.{b64url(json.dumps(claims).encode())}"
    mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def tampered(token: str, **changes: Any) -> str:
    """The token with its payload changed and its signature kept."""
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{head}.{b64url(json.dumps(claims).encode())}.{signature}"


class JwksServer:
    """Serves a JWKS at /jwks on a loopback port, in a thread; `mode` is ok, garbage or hang."""

    def __init__(self, *keys: RsaKey) -> None:
        self.keys = list(keys)
        self.mode = "ok"
        self.fetches = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                if server.mode == "hang":
                    time.sleep(8)
                body = (
                    json.dumps({"keys": [k.jwk() for k in server.keys]}).encode()
                    if server.mode == "ok"
                    else b"<html>not a JWKS{"
                )
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # Envoy gave up on a hanging fetch: what "hang" is for

            def log_message(self, *_: Any) -> None:
                pass

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/jwks"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)
