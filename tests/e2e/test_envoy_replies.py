"""What Envoy answers on its own (a malformed request, an upstream that is down or slow) is a
problem+json like every other denial, through the real Envoy."""

import socket
import threading
from collections.abc import Iterator

import pytest

from mgmt.embedded.processes import free_port
from mgmt.gateway.models import Api, ApiVersion, Endpoint, Organization, Product, Route, Upstream
from tests.e2e.conftest import wait_until
from tests.e2e.http import raw, request

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PROBLEM = "https://tollgate.dev/problems/"


def _problem_of(reply: bytes) -> tuple[int, str, bytes]:
    """(status, content type, body) of one raw HTTP/1.1 answer."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("content-type", ""), body


def test_headers_too_large_is_a_431_problem(gateway, scenario):
    reply = request(
        gateway.ports.gateway,
        "/demo/x",
        {"x-api-key": scenario.demo_key, "x-big": "a" * 100_000},
    )
    assert reply.status == 431
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["type"] == PROBLEM + "request-header-fields-too-large"
    assert reply.json()["status"] == 431


def test_a_request_envoy_cannot_parse_is_a_400_problem(gateway, scenario):
    for malformed in (
        b"GET /demo/x HTTP/1.1\r\nConnection: close\r\n\r\n",  # no Host
        b"GET /demo/x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ):
        status, content_type, body = _problem_of(raw(gateway.ports.gateway, malformed))
        assert status == 400, body[:200]
        assert content_type == "application/problem+json"
        assert b'"type":"' + PROBLEM.encode() + b'bad-request"' in body


def test_the_sidecars_own_denials_keep_their_problem(gateway, scenario):
    # Same machinery (a local reply), other owner: the mapper must not rewrite it.
    reply = request(gateway.ports.gateway, "/demo/x", {"x-api-key": "tg_nope"})
    assert reply.status == 401
    assert reply.json()["type"] == PROBLEM + "invalid-credentials"


@pytest.fixture
def silent_upstream() -> Iterator[int]:
    """Accepts connections and reads, but never answers: a hung service."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def _api_on(port: int, slug: str, timeout_ms: int = 15_000) -> str:
    """An API of the demo product (the demo key is subscribed) whose upstream is `port`."""
    acme = Organization.objects.get(slug="acme")
    upstream = Upstream.objects.create(organization=acme, name=slug)
    Endpoint.objects.create(upstream=upstream, host="127.0.0.1", port=port)
    api = Api.objects.create(
        organization=acme,
        product=Product.objects.get(slug="demo"),
        name=slug.title(),
        slug=slug,
        base_path=f"/{slug}",
    )
    version = ApiVersion.objects.create(
        api=api, version="v1", path_prefix="/v1", lifecycle="published"
    )
    Route.objects.create(api_version=version, path="/", upstream=upstream, timeout_ms=timeout_ms)
    return f"/{slug}/v1/x"


def _assert_upstream_problem(gateway, key: str, path: str, status: int, slug: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"x-api-key": key}
    wait_until(
        lambda: request(gateway.ports.gateway, path, headers).status == status,
        timeout=5.0,
        what=f"the new API answers {status}",
    )
    reply = request(gateway.ports.gateway, path, headers)
    assert reply.headers["content-type"] == "application/problem+json"
    assert (reply.json()["type"], reply.json()["status"]) == (PROBLEM + slug, status)


def test_an_upstream_that_refuses_connections_is_a_503_problem(gateway, scenario):
    path = _api_on(free_port(), "refusing")  # nothing listens there
    _assert_upstream_problem(gateway, scenario.demo_key, path, 503, "upstream-unavailable")


def test_an_upstream_slower_than_the_route_timeout_is_a_504_problem(
    gateway, scenario, silent_upstream
):
    path = _api_on(silent_upstream, "hanging", timeout_ms=300)
    _assert_upstream_problem(gateway, scenario.demo_key, path, 504, "upstream-timeout")
