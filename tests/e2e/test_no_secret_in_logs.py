"""No secret in any log, by construction (issue 13): the real `make run` issues every kind
of secret Tollgate makes, each is used through its normal flow, and then no log file and
no database file holds any of them in plain text.

Searched: every file under var/logs (each child's output), the runner's own output, the
SQLite database with its -wal and -shm, and the counters' Redis file. Not searched: var/mail
(the outbox: mailing a link is how it reaches its owner) and the files that ARE the secret
store (internal_token, secret_key, demo_api_key, the xDS *.token files, Envoy's bootstrap,
secrets.key and the local CA's key in var/tls). The HTTPS certificate's private key is
searched for in clear: the database holds it sealed only."""

import email
import http.cookiejar
import json
import re
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mgmt.compiler.tls import secret_name
from tests.e2e.conftest import wait_until
from tests.e2e.embedded_run import EmbeddedRun, embedded_run
from tests.e2e.http import request
from xds_server import sealing

pytestmark = [pytest.mark.e2e]

OWNER = "owner@example.com"
INVITEE = "invitee@example.com"
PASSWORD = "a long partner passphrase"
NEW_PASSWORD = "another long passphrase"


@dataclass(frozen=True)
class Page:
    status: int
    body: str
    location: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 302 is an answer to look at, not to follow


class Browser:
    """A browser's requests to the portal: cookies, CSRF tokens, no redirects followed. Like
    a browser, urllib never sends a URL's fragment."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirects()
        )

    def open(self, url: str, form: dict[str, str] | None = None) -> Page:
        full = url if url.startswith("http") else self.base + url
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        sent = urllib.request.Request(full, data=data)
        try:
            with self.opener.open(sent, timeout=20) as answer:
                return Page(answer.status, answer.read().decode(), answer.headers["Location"] or "")
        except urllib.error.HTTPError as error:
            return Page(error.code, error.read().decode(), error.headers["Location"] or "")

    def submit(self, url: str, form: dict[str, str], page: str = "") -> Page:
        """GETs the page (`url` unless told) for its CSRF token, then POSTs the form to `url`."""
        shown = self.open(page or url).body
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', shown)
        assert found is not None, page or url
        return self.open(url, {**form, "csrfmiddlewaretoken": found.group(1)})


def _api(run: EmbeddedRun, method: str, path: str, body: Any = None, token: str = "") -> Any:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(
        f"{run.mgmt_url()}/api/v1{path}", data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(sent, timeout=20) as answer:
        return json.loads(answer.read() or b"null")


def _mailed(run: EmbeddedRun, to: str, page: str) -> tuple[str, str]:
    """(the link, its code) of the newest mail to `to` that links to `page`."""
    found: list[tuple[str, str]] = []
    for path in sorted((run.var_dir / "mail").glob("*"), key=lambda p: p.stat().st_mtime):
        for chunk in path.read_bytes().split(b"-" * 79):
            message = email.message_from_bytes(chunk.strip())
            if to not in str(message.get("To", "")):
                continue
            payload = message.get_payload(decode=True)
            text = payload.decode() if isinstance(payload, bytes) else ""
            link = re.search(rf"(https?://\S+{re.escape(page)}#(\S+))", text)
            if link is not None:
                assert f"enter this code:\n\n{link.group(2)}\n" in text
                found.append((link.group(1), link.group(2)))
    assert found, f"no mail to {to} with a link to {page}"
    return found[-1]


def _variants(secret: str) -> set[str]:
    """The secret as it would be written: as is, URL-encoded, form-encoded."""
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}


def _searched_files(var_dir: Path) -> Iterator[Path]:
    yield from (p for p in (var_dir / "logs").rglob("*") if p.is_file())
    yield var_dir / "runner.log"
    yield from var_dir.glob("tollgate.sqlite3*")  # the database, its -wal and -shm
    yield from (p for p in (var_dir / "redis").rglob("*") if p.is_file())


def _store_secrets(var_dir: Path) -> dict[str, str]:
    """The secrets the runner keeps in files of their own (those files are not searched)."""
    kept = {name: (var_dir / name).read_text().strip() for name in ("internal_token", "secret_key")}
    for token_file in var_dir.rglob("*.token"):
        kept[f"xDS credential {token_file.name}"] = token_file.read_text().strip()
    sealing_key = (var_dir / "secrets.key").read_text().strip()
    kept["sealing key"] = sealing_key
    kept["local CA private key"] = _key_body((var_dir / "tls" / "ca.key").read_text())
    # The local certificate's key, opened from its sealed copy in the database.
    with sqlite3.connect(var_dir / "tollgate.sqlite3") as db:
        (sealed,) = db.execute(
            "SELECT sealed_key FROM tls_servercertificate WHERE name = 'local'"
        ).fetchone()
    clear = sealing.open_sealed(sealing.parse_key(sealing_key), secret_name("local"), sealed)
    kept["HTTPS private key"] = _key_body(clear.decode())
    return kept


def _key_body(pem: str) -> str:
    """The base64 of a PEM key on one line: its first line of key material is enough."""
    return pem.splitlines()[1]


def _onboard(run: EmbeddedRun, owner: Browser, secrets: dict[str, str]) -> str:
    """Sign up and confirm through the portal; the organization's slug."""
    signed = owner.submit(
        "/portal/signup",
        {"email": OWNER, "name": "Olga", "password": PASSWORD, "organization_name": "Leak Test"},
    )
    assert signed.status == 302, signed.body
    link, code = _mailed(run, OWNER, "/portal/verify")
    secrets["verification code"] = code
    # The mail reader's browser opens the link; its script posts the code in the body.
    assert owner.open(link).status == 200
    assert owner.submit("/portal/verify", {"code": code}).location == "/portal/login"
    logged_in = owner.submit("/portal/login", {"email": OWNER, "password": PASSWORD})
    assert logged_in.location == "/portal/", logged_in.body
    return "leak-test"


def _call_the_gateway(run: EmbeddedRun, org: str, secrets: dict[str, str]) -> None:
    token = _api(run, "POST", "/auth/tokens", {"email": OWNER, "password": PASSWORD})["token"]
    secrets["access token"] = token
    assert _api(run, "GET", "/me", token=token)["email"] == OWNER
    app = _api(run, "POST", f"/orgs/{org}/applications", {"name": "Leaky"}, token=token)
    apps = f"/orgs/{org}/applications/{app['public_id']}"
    key = _api(run, "POST", f"{apps}/keys", {"label": "prod"}, token=token)["key"]
    secrets["API key"] = key
    _api(run, "POST", f"{apps}/subscriptions", {"plan": "free"}, token=token)
    port = run.ports["gateway"]
    wait_until(
        lambda: request(port, "/demo/hello", {"x-api-key": key}).status == 200,
        timeout=15,
        what="the new key admitted at the gateway",
    )
    assert request(port, "/demo/hello?page=2", {"x-api-key": key}).status == 200
    assert request(port, "/demo/hello", {"x-api-key": key + "x"}).status == 401
    demo_key = run.demo_api_key()
    assert request(port, "/demo/hello", {"x-api-key": demo_key}).status == 200
    # A careless client puts them in URLs: mgmt's request log redacts them.
    Browser(run.mgmt_url()).open(f"/portal/?api_key={key}")
    Browser(run.mgmt_url()).open(f"/api/v1/me/{token}")


def _reset_the_password(run: EmbeddedRun, secrets: dict[str, str]) -> None:
    stranger = Browser(run.mgmt_url())
    assert stranger.submit("/portal/password-reset", {"email": OWNER}).status == 302
    link, code = _mailed(run, OWNER, "/portal/password-reset/confirm")
    secrets["password reset code"] = code
    secrets["password reset token"] = code.split(".", 1)[1]
    assert stranger.open(link).status == 200
    done = stranger.submit(
        "/portal/password-reset/confirm", {"code": code, "password": NEW_PASSWORD}
    )
    assert done.location == "/portal/login", done.body
    replayed = Browser(run.mgmt_url()).submit(
        "/portal/password-reset/confirm", {"code": code, "password": "a replayed passphrase"}
    )
    assert replayed.status == 400 and "This reset link is not valid" in replayed.body


def _invite_and_join(run: EmbeddedRun, org: str, secrets: dict[str, str]) -> None:
    owner = Browser(run.mgmt_url())
    assert owner.submit("/portal/login", {"email": OWNER, "password": NEW_PASSWORD}).status == 302
    sent = owner.submit(
        f"/portal/orgs/{org}/members/invite",
        {"email": INVITEE, "role": "developer"},
        page=f"/portal/orgs/{org}/members",
    )
    assert sent.status == 302, sent.body
    link, code = _mailed(run, INVITEE, "/portal/invitations/accept")
    secrets["invitation token"] = code
    invitee = Browser(run.mgmt_url())
    assert invitee.open(link).status == 200
    shown = invitee.submit("/portal/invitations/accept", {"code": code})
    assert "Leak Test" in shown.body and 'name="invitation_token"' in shown.body
    joined = invitee.submit(
        "/portal/signup",
        {"email": INVITEE, "name": "Ines", "password": PASSWORD, "invitation_token": code},
    )
    assert joined.location == "/portal/", joined.body


def test_no_secret_tollgate_makes_is_in_any_log_or_in_the_database(tmp_path: Path) -> None:
    secrets: dict[str, str] = {}
    with embedded_run(tmp_path) as run:
        owner = Browser(run.mgmt_url())
        org = _onboard(run, owner, secrets)
        _call_the_gateway(run, org, secrets)
        _reset_the_password(run, secrets)
        _invite_and_join(run, org, secrets)
        # A link mailed before this change: it fails with a page, and its line is redacted.
        old = owner.open(f"/portal/password-reset/Mw/{secrets['password reset token']}")
        assert old.status == 200 and "This link is no longer valid" in old.body
        secrets |= _store_secrets(run.var_dir)
        secrets["demo API key"] = run.demo_api_key()
        secrets["passwords"] = NEW_PASSWORD
        var_dir = run.var_dir
    # Read after the runner stopped: every child has flushed and closed its files.
    # The request lines are there, the careless ones redacted (mgmt.log_redaction).
    logged = (var_dir / "logs" / "mgmt.log").read_text(errors="replace")
    assert '"POST /portal/password-reset/confirm HTTP/1.1" 302' in logged
    assert "/portal/password-reset/[redacted]" in logged and "api_key=[redacted]" in logged
    hits = []
    for path in _searched_files(var_dir):
        content = path.read_bytes()
        for name, secret in secrets.items():
            if any(variant.encode() in content for variant in _variants(secret)):
                hits.append(f"{name} in {path.relative_to(var_dir)}")
    assert not hits, "\n".join(hits)
