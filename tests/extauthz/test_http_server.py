"""The HTTP ext_authz server over real loopback sockets, each test on its own uvloop loop."""

import asyncio
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, BinaryIO, TypeVar

import pytest

from extauthz import http_server
from extauthz.http_server import (
    MAX_PENDING,
    Handler,
    Headers,
    new_event_loop,
    response,
    serve_http,
)

T = TypeVar("T")

TIMEOUT = 10.0
# uvloop reads at most this much per data_received (its UV_STREAM_RECV_BUF_SIZE).
READ_SIZE = 256_000


class Running:
    """A server on 127.0.0.1:<free port>, its loop in a thread; clients use blocking sockets."""

    def __init__(self, handler: Handler, **options: Any) -> None:
        self.loop = new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._clients: list[socket.socket] = []
        coroutine = serve_http(handler, host="127.0.0.1", port=0, **options)
        self.server = asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(TIMEOUT)
        self.port: int = self.server.sockets[0].getsockname()[1]

    def call(self, function: Callable[[], T]) -> T:
        """Runs `function` on the server's loop, where its state may be touched."""

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(TIMEOUT)

    def connect(self, **socket_options: int) -> socket.socket:
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._clients.append(client)
        for option, value in socket_options.items():
            client.setsockopt(socket.SOL_SOCKET, getattr(socket, option), value)
        client.settimeout(TIMEOUT)
        client.connect(("127.0.0.1", self.port))
        return client

    def stop(self) -> None:
        for client in self._clients:
            client.close()

        async def close() -> None:
            self.server.close()
            await self.server.wait_closed()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(TIMEOUT)
        self.loop.close()


@pytest.fixture
def start() -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(handler: Handler, **options: Any) -> Running:
        options.setdefault("wanted", ["x-seq", "x-api-key"])
        started.append(Running(handler, **options))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def request(
    *headers: tuple[str, str], method: str = "GET", version: str = "1.1", body: bytes = b""
) -> bytes:
    lines = [f"{method} /v1/orders HTTP/{version}", "host: api.example"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def seq(n: int, *headers: tuple[str, str], **options: Any) -> bytes:
    return request(("x-seq", str(n)), *headers, **options)


def answer(n: str) -> bytes:
    return response(200, "OK", [("x-seq", n)])


def echo(headers: Headers) -> bytes:
    return answer(headers.get("x-seq", "none"))


def read_response(stream: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    status_line = stream.readline()
    if not status_line:
        raise EOFError("the server closed the connection instead of answering")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, stream.read(int(headers["content-length"]))


def assert_closed(stream: BinaryIO) -> None:
    assert stream.read(1) == b""  # times out (and fails) if the server keeps it open


def assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    document = json.loads(body)
    assert document["status"] == expected
    assert document["type"].startswith("https://")


def served(running: Running) -> bool:
    """A fresh connection still gets an answer."""
    with running.connect() as client, client.makefile("rb") as stream:
        client.sendall(seq(7))
        status, headers, _ = read_response(stream)
    return status == 200 and headers["x-seq"] == "7"


def wait_until(condition: Callable[[], bool], seconds: float = TIMEOUT) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def test_only_wanted_headers_reach_the_handler_and_the_first_occurrence_wins(
    start: Callable[..., Running],
) -> None:
    seen: list[Headers] = []

    def record(headers: Headers) -> bytes:
        seen.append(headers)
        return answer("1")

    running = start(record, wanted=["X-API-Key", "authorization", "x-name"])
    client = running.connect()
    client.sendall(
        request(
            ("X-Api-Key", "first"),
            ("x-api-key", "second"),
            ("AUTHORIZATION", "Bearer t"),
            ("cookie", "session=1"),
            # UTF-8 on the wire (as a token's claim is), written here as its latin-1 bytes.
            ("x-name", "Renée".encode().decode("latin-1")),
        )
    )
    with client.makefile("rb") as stream:
        assert read_response(stream)[0] == 200
    assert seen == [{"x-api-key": "first", "authorization": "Bearer t", "x-name": "Renée"}]


def test_header_bytes_that_are_not_utf8_arrive_as_surrogates_that_match_nothing(
    start: Callable[..., Running],
) -> None:
    seen: list[Headers] = []

    def record(headers: Headers) -> bytes:
        seen.append(headers)
        return answer("1")

    running = start(record, wanted=["x-name"])
    client = running.connect()
    client.sendall(request(("x-name", "Ren\xe9e")))
    with client.makefile("rb") as stream:
        assert read_response(stream)[0] == 200
    assert seen == [{"x-name": "Ren\udce9e"}]
    assert not seen[0]["x-name"].isascii()


def test_keep_alive_serves_a_thousand_requests_on_one_connection(
    start: Callable[..., Running],
) -> None:
    running = start(echo)
    client = running.connect()
    with client.makefile("rb") as stream:
        for n in range(1000):
            client.sendall(seq(n))
            status, headers, _ = read_response(stream)
            assert (status, headers["x-seq"]) == (200, str(n))


def test_pipelined_requests_are_answered_in_order_when_an_earlier_one_is_slow(
    start: Callable[..., Running],
) -> None:
    def mixed(headers: Headers) -> bytes | Awaitable[bytes]:
        n = int(headers["x-seq"])
        if n % 3 == 0:
            return answer(str(n))
        if n % 3 == 1:  # a coroutine, slower the earlier it was asked

            async def later() -> bytes:
                await asyncio.sleep((12 - n) * 0.01)
                return answer(str(n))

            return later()
        future = asyncio.get_running_loop().create_future()  # a bare future, no task
        asyncio.get_running_loop().call_later((12 - n) * 0.005, future.set_result, answer(str(n)))
        return future

    running = start(mixed)
    client = running.connect()
    client.sendall(b"".join(seq(n) for n in range(12)))
    with client.makefile("rb") as stream:
        order = [read_response(stream)[1]["x-seq"] for _ in range(12)]
    assert order == [str(n) for n in range(12)]


def test_request_bodies_are_skipped_so_the_next_request_parses(
    start: Callable[..., Running],
) -> None:
    seen: list[Headers] = []

    def record(headers: Headers) -> bytes:
        seen.append(headers)
        return echo(headers)

    running = start(record)
    smuggled = seq(99)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
    client = running.connect()
    client.sendall(
        seq(1, ("content-length", str(len(smuggled))), method="POST", body=smuggled)
        + seq(2, ("transfer-encoding", "chunked"), method="POST", body=chunked)
        + seq(3)
    )
    with client.makefile("rb") as stream:
        assert [read_response(stream)[1]["x-seq"] for _ in range(3)] == ["1", "2", "3"]
    assert [headers["x-seq"] for headers in seen] == ["1", "2", "3"]


def test_garbage_gets_a_400_problem_and_a_close_and_the_server_still_serves(
    start: Callable[..., Running],
) -> None:
    running = start(echo)
    client = running.connect()
    client.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")
    with client.makefile("rb") as stream:
        assert_problem(*read_response(stream), expected=400)
        assert_closed(stream)
    assert served(running)


def test_an_earlier_pipelined_answer_is_written_before_the_400(
    start: Callable[..., Running],
) -> None:
    async def slow(headers: Headers) -> bytes:
        await asyncio.sleep(0.05)
        return echo(headers)

    running = start(slow)
    client = running.connect()
    client.sendall(seq(1) + b"GET / HTTP/1.1\r\nbad header line\r\n\r\n")
    with client.makefile("rb") as stream:
        assert read_response(stream)[1]["x-seq"] == "1"
        assert read_response(stream)[0] == 400
        assert_closed(stream)


def test_a_header_section_over_the_limit_gets_431_and_a_close(
    start: Callable[..., Running],
) -> None:
    running = start(echo, max_header_bytes=1024)
    padding = [(f"x-pad-{i:02d}", "v" * 40) for i in range(30)]  # 30 * 48 bytes
    client = running.connect()
    client.sendall(seq(1, *padding))
    with client.makefile("rb") as stream:
        assert_problem(*read_response(stream), expected=431)
        assert_closed(stream)
    assert served(running)


def test_a_header_section_exactly_at_the_limit_is_served(
    start: Callable[..., Running],
) -> None:
    running = start(echo, max_header_bytes=1024)
    # Names and values: host + api.example (15), x-seq + 1 (6), x-pad + value (1003): 1024.
    client = running.connect()
    client.sendall(seq(1, ("x-pad", "v" * 998)))
    with client.makefile("rb") as stream:
        assert read_response(stream)[1]["x-seq"] == "1"


def test_a_header_line_that_never_ends_gets_431_and_a_close(
    start: Callable[..., Running],
) -> None:
    running = start(echo, max_header_bytes=1024)
    client = running.connect()
    client.sendall(b"GET / HTTP/1.1\r\nx-endless: ")
    for _ in range(20):  # separate reads, each wholly inside the header section
        if select.select([client], [], [], 0.02)[0]:
            break  # answered: sending more would only meet a reset
        client.sendall(b"v" * 512)
    with client.makefile("rb") as stream:
        assert_problem(*read_response(stream), expected=431)
        assert_closed(stream)


def test_a_handler_exception_gets_500_and_a_close_and_the_server_still_serves(
    start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    def failing(headers: Headers) -> bytes:
        if headers["x-seq"] == "2":
            raise KeyError(headers["x-api-key"])
        return echo(headers)

    running = start(failing)
    client = running.connect()
    with caplog.at_level(logging.ERROR, logger=http_server.__name__):
        client.sendall(seq(1) + seq(2, ("x-api-key", "tg_secret_key")) + seq(3))
        with client.makefile("rb") as stream:
            assert read_response(stream)[1]["x-seq"] == "1"
            assert_problem(*read_response(stream), expected=500)
            assert_closed(stream)
    assert "KeyError" in caplog.text
    assert "tg_secret_key" not in caplog.text
    assert served(running)


def test_a_failed_awaitable_gets_500_in_order_then_a_close(
    start: Callable[..., Running],
) -> None:
    def failing_later(headers: Headers) -> bytes | Awaitable[bytes]:
        if headers["x-seq"] != "2":
            return echo(headers)

        async def fail() -> bytes:
            await asyncio.sleep(0.02)
            raise ConnectionError("the store is down")

        return fail()

    running = start(failing_later)
    client = running.connect()
    client.sendall(seq(1) + seq(2) + seq(3))
    with client.makefile("rb") as stream:
        assert read_response(stream)[1]["x-seq"] == "1"
        assert_problem(*read_response(stream), expected=500)
        assert_closed(stream)
    assert served(running)


def test_connection_close_is_honoured_after_its_answer(start: Callable[..., Running]) -> None:
    seen: list[Headers] = []

    def record(headers: Headers) -> bytes:
        seen.append(headers)
        return echo(headers)

    running = start(record)
    client = running.connect()
    client.sendall(seq(1, ("connection", "close")) + seq(2))
    with client.makefile("rb") as stream:
        assert read_response(stream)[1]["x-seq"] == "1"
        assert_closed(stream)
    assert [headers["x-seq"] for headers in seen] == ["1"]


def test_http_1_0_without_keep_alive_closes_after_the_answer(
    start: Callable[..., Running],
) -> None:
    running = start(echo)
    client = running.connect()
    client.sendall(seq(1, version="1.0"))
    with client.makefile("rb") as stream:
        assert read_response(stream)[1]["x-seq"] == "1"
        assert_closed(stream)


@pytest.mark.parametrize(
    "upgrade",
    [
        request(("connection", "upgrade"), ("upgrade", "websocket")),
        b"CONNECT api.example:443 HTTP/1.1\r\nhost: api.example:443\r\n\r\n",
    ],
    ids=["upgrade", "connect"],
)
def test_upgrade_and_connect_get_400_and_a_close(
    start: Callable[..., Running], upgrade: bytes
) -> None:
    calls: list[Headers] = []

    def record(headers: Headers) -> bytes:
        calls.append(headers)
        return echo(headers)

    running = start(record)
    client = running.connect()
    client.sendall(upgrade)
    with client.makefile("rb") as stream:
        assert_problem(*read_response(stream), expected=400)
        assert_closed(stream)
    assert calls == []


def test_a_client_closing_the_connection_cancels_its_pending_awaitables(
    start: Callable[..., Running],
) -> None:
    pending: list[asyncio.Future[bytes]] = []

    def never(headers: Headers) -> Awaitable[bytes]:
        pending.append(asyncio.get_running_loop().create_future())
        return pending[-1]

    running = start(never)
    client = running.connect()
    client.sendall(seq(1) + seq(2) + seq(3))
    wait_until(lambda: len(pending) == 3)
    client.close()
    wait_until(lambda: running.call(lambda: all(future.cancelled() for future in pending)))


def send_until_blocked(client: socket.socket, data: bytes, idle: float) -> int:
    """Sends without reading answers until all is sent or the server has taken no bytes for
    `idle` seconds; returns how many bytes went out."""
    client.setblocking(False)
    sent = 0
    blocked_since: float | None = None
    while sent < len(data):
        try:
            sent += client.send(data[sent : sent + 65536])
            blocked_since = None
        except BlockingIOError:
            blocked_since = blocked_since or time.monotonic()
            if time.monotonic() - blocked_since > idle:
                break
            time.sleep(0.01)
    client.settimeout(TIMEOUT)
    return sent


def test_a_client_that_does_not_read_stops_being_read_and_the_buffer_stays_bounded(
    start: Callable[..., Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    connections: list[Any] = []

    class Recorded(http_server._Connection):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            connections.append(self)
            # Small fixed kernel buffers here and in the client: otherwise the megabytes the
            # kernel would hold could stand in for the flow control under test.
            server_side = transport.get_extra_info("socket")
            server_side.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)

    monkeypatch.setattr(http_server, "_Connection", Recorded)
    big = response(200, "OK", [], b"a" * 8192)
    running = start(lambda headers: big)
    client = running.connect(SO_RCVBUF=65536, SO_SNDBUF=65536)
    padded = seq(0, ("x-pad", "p" * 4000))
    total = 2000
    sent = send_until_blocked(client, padded * total, idle=1.0) // len(padded)

    buffered = running.call(connections[0]._transport.get_write_buffer_size)
    assert sent < total  # the server stopped reading, so the client had to stop sending
    # Past the high-water mark the server answers at most one more read's worth of requests.
    one_read = (READ_SIZE // len(padded) + 2) * len(big)
    assert 0 < buffered <= 64 * 1024 + one_read

    # Reading the answers lets the server read again, until every request sent is answered.
    with client.makefile("rb") as stream:
        for _ in range(sent):
            assert read_response(stream)[0] == 200


def test_more_than_32_pending_answers_stop_reading_until_they_are_answered(
    start: Callable[..., Running],
) -> None:
    waiting: list[tuple[asyncio.Future[bytes], Headers]] = []
    released = threading.Event()

    def deferred(headers: Headers) -> Awaitable[bytes]:
        future = asyncio.get_running_loop().create_future()
        if released.is_set():
            future.set_result(echo(headers))
        else:
            waiting.append((future, headers))
        return future

    def release() -> None:
        released.set()
        for future, headers in waiting:
            future.set_result(echo(headers))

    running = start(deferred)
    client = running.connect()
    # Every request is 8,000 bytes, so one read completes at most 32 of them.
    requests = [seq(n, ("x-pad", "p" * (8000 - len(seq(n)) - 9))) for n in range(300)]
    assert {len(r) for r in requests} == {8000}
    data = b"".join(requests)
    sent = send_until_blocked(client, data, idle=0.5)
    wait_until(lambda: len(waiting) > MAX_PENDING)
    time.sleep(0.3)  # time enough to read everything sent, were the server still reading

    assert len(waiting) <= MAX_PENDING + READ_SIZE // 8000
    running.call(release)
    client.setblocking(True)
    client.settimeout(TIMEOUT)
    client.sendall(data[sent:])
    with client.makefile("rb") as stream:
        order = [read_response(stream)[1]["x-seq"] for _ in range(300)]
    assert order == [str(n) for n in range(300)]


@pytest.mark.pure
def test_response_serializes_status_headers_and_content_length() -> None:
    built = response(403, "Forbidden", [("content-type", "text/plain")], b"no")
    assert (
        built
        == b"HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nno"
    )


@pytest.mark.pure
@pytest.mark.parametrize(
    ("reason", "headers"),
    [
        ("OK\r\nx-evil: 1", []),
        ("OK", [("x-key", "a\r\nx-evil: 1")]),
        ("OK", [("x key", "a")]),
        ("OK", [("content-length", "5")]),
        ("OK", [("Transfer-Encoding", "chunked")]),
    ],
    ids=["reason-crlf", "value-crlf", "name-space", "content-length", "transfer-encoding"],
)
def test_response_refuses_what_would_split_or_reframe_it(
    reason: str, headers: list[tuple[str, str]]
) -> None:
    with pytest.raises(ValueError):
        response(200, reason, headers)
