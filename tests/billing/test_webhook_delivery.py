"""Billing webhooks delivered for real: receivers on loopback that check the signature, down
or failing or garbled, two sweeps racing for one delivery, and the schedule run to its end
with `now` moved forward instead of waiting."""

import contextlib
import http.server
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from mgmt.billing import events, webhook_delivery
from mgmt.billing.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from mgmt.billing.webhook_delivery import LEASE, body_of, deliver_due, deliver_event
from mgmt.billing.webhook_endpoints import WebhookEndpointError, create_endpoint, rotate_secret
from mgmt.billing.webhook_schedule import MAX_ATTEMPTS, RETRY_DELAYS
from mgmt.billing.webhook_signing import SIGNATURE_HEADER, verify
from mgmt.gateway.models import Organization
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]

PENDING = WebhookDelivery.State.PENDING
DELIVERED = WebhookDelivery.State.DELIVERED
FAILED = WebhookDelivery.State.FAILED


@dataclass
class Receiver:
    """A webhook receiver on loopback that answers `statuses` in turn (the last one again
    after that) and checks each request's signature with `secrets` at the real time."""

    port: int
    statuses: list[int] = field(default_factory=lambda: [200])
    secrets: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    answer_body: bytes = b"thanks"
    delay_s: float = 0.0
    _server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/billing"

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver.statuses[min(len(receiver.bodies), len(receiver.statuses) - 1)]
                receiver.headers.append(headers)
                receiver.bodies.append(body)
                receiver.verified.append(
                    verify(receiver.secrets, headers, body, now=int(time.time()))
                )
                time.sleep(receiver.delay_s)
                self.send_response(status)
                self.send_header("content-length", str(len(receiver.answer_body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(receiver.answer_body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def _loopback_allowed(settings: Any) -> None:
    settings.TOLLGATE_WEBHOOKS_ALLOW_PRIVATE = True
    settings.TOLLGATE_AUTO_PUBLISH = False  # organizations here shape no gateway


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver, started; `receiver.stop()` takes it down (its port then refuses)."""
    found = Receiver(port=_free_port())
    found.start()
    yield found
    found.stop()


@pytest.fixture
def organization() -> Organization:
    return factories.organization()


def _endpoint(
    organization: Organization, receiver: Receiver, url: str | None = None
) -> WebhookEndpoint:
    endpoint, secret = create_endpoint(organization, url or receiver.url, ["invoice.finalized"])
    receiver.secrets.append(secret)
    return endpoint


def _event(organization: Organization, number: int = 1) -> WebhookEvent:
    return events.emit(
        organization,
        "invoice.finalized",
        f"invoice:{number}",
        {"invoice": f"INV-ACME-{number:06d}", "total": "12.50", "currency": "EUR", "note": "ü"},
    )


def _delivery(event: WebhookEvent) -> WebhookDelivery:
    return WebhookDelivery.objects.get(event=event)


def _attempts(delivery: WebhookDelivery) -> list[DeliveryAttempt]:
    return list(delivery.attempt_log.order_by("at", "pk"))


def test_a_delivery_reaches_a_verifying_receiver_once_and_is_delivered(organization, receiver):
    _endpoint(organization, receiver)
    event = _event(organization)

    assert deliver_event(event.id) == 1

    assert receiver.verified == [True]
    assert receiver.headers[0]["webhook-id"] == event.id
    assert receiver.headers[0]["content-type"] == "application/json"
    assert receiver.bodies[0] == body_of(event.payload)
    assert json.loads(receiver.bodies[0]) == event.payload
    assert b'{"data":{' in receiver.bodies[0]  # compact, keys sorted
    assert "ü".encode() in receiver.bodies[0]  # UTF-8, not \\u escapes
    delivery = _delivery(event)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (DELIVERED, 1, 200)
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    [attempt] = _attempts(delivery)
    assert (attempt.status, attempt.error, attempt.response_excerpt) == (200, "", "thanks")
    assert deliver_event(event.id) == 0
    assert deliver_due() == 0
    assert len(receiver.bodies) == 1


def test_a_receiver_that_was_down_gets_the_retry_with_the_same_webhook_id(organization, receiver):
    _endpoint(organization, receiver)
    receiver.stop()
    event = _event(organization)
    start = timezone.now()

    assert deliver_event(event.id, now=start) == 1

    delivery = _delivery(event)
    [refused] = _attempts(delivery)
    assert refused.status is None
    assert "connection refused" in refused.error
    assert (delivery.state, delivery.attempts, delivery.last_status) == (PENDING, 1, None)
    assert "connection refused" in delivery.last_error
    wait = delivery.next_attempt_at - start
    assert RETRY_DELAYS[0] * 0.9 <= wait <= RETRY_DELAYS[0] * 1.1 + timedelta(seconds=1)
    assert deliver_due(now=start + timedelta(seconds=1)) == 0  # not due yet

    receiver.start()
    assert deliver_due(now=start + timedelta(seconds=10)) == 1

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == (DELIVERED, 2, 200)
    assert [a.status for a in _attempts(delivery)] == [None, 200]
    assert [h["webhook-id"] for h in receiver.headers] == [event.id]
    assert receiver.verified == [True]
    assert deliver_due(now=start + timedelta(days=30)) == 0


def test_a_500_is_retried_with_the_same_id_signed_afresh(organization, receiver):
    receiver.statuses = [500, 200]
    receiver.answer_body = b"database is down"
    _endpoint(organization, receiver)
    event = _event(organization)
    start = timezone.now()

    assert deliver_event(event.id, now=start) == 1
    delivery = _delivery(event)
    assert (delivery.state, delivery.last_status, delivery.last_error) == (PENDING, 500, "HTTP 500")
    assert deliver_due(now=start + timedelta(seconds=10)) == 1

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DELIVERED, 2)
    assert [(a.status, a.response_excerpt) for a in _attempts(delivery)] == [
        (500, "database is down"),
        (200, "database is down"),
    ]
    ids = [h["webhook-id"] for h in receiver.headers]
    stamps = [h["webhook-timestamp"] for h in receiver.headers]
    assert ids == [event.id, event.id]
    assert stamps[0] != stamps[1]  # each attempt signed at its own time
    assert receiver.verified == [True, True]


def _garbage_server(reply: bytes | None) -> tuple[socket.socket, int]:
    """A TCP server that reads the request, then sends `reply` and hangs up, or (None)
    never answers at all."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            peer, _ = server.accept()
            with peer:
                peer.recv(65536)
                if reply is None:
                    time.sleep(3)
                else:
                    peer.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return server, int(server.getsockname()[1])


@pytest.mark.parametrize(
    ("reply", "error"),
    [(b"this is not HTTP at all\r\n\r\n", "invalid HTTP response"), (None, "timed out")],
    ids=["garbage", "silent"],
)
def test_a_broken_receiver_is_a_failed_attempt_not_an_exception(
    organization, settings, reply, error
):
    settings.TOLLGATE_WEBHOOKS_TIMEOUT_S = 0.5
    server, port = _garbage_server(reply)
    with server:
        create_endpoint(organization, f"http://127.0.0.1:{port}/", [])
        event = _event(organization)
        started = time.monotonic()
        assert deliver_event(event.id) == 1
    assert time.monotonic() - started < 3
    delivery = _delivery(event)
    [attempt] = _attempts(delivery)
    assert attempt.status is None
    assert error in attempt.error
    assert (delivery.state, delivery.attempts) == (PENDING, 1)


def test_a_long_answer_is_logged_truncated(organization, receiver):
    receiver.statuses = [400]
    receiver.answer_body = b"x" * 5000
    _endpoint(organization, receiver)
    event = _event(organization)

    deliver_event(event.id)

    [attempt] = _attempts(_delivery(event))
    assert attempt.response_excerpt == "x" * 500
    assert attempt.duration_ms >= 0


def test_neither_secret_nor_signature_is_logged_or_stored(organization, receiver, caplog):
    receiver.statuses = [500]
    _endpoint(organization, receiver)
    event = _event(organization)

    with caplog.at_level(logging.DEBUG):
        deliver_event(event.id)

    signature = receiver.headers[0][SIGNATURE_HEADER]
    secret = receiver.secrets[0]
    [attempt] = _attempts(_delivery(event))
    stored = f"{attempt.error} {attempt.response_excerpt} {_delivery(event).last_error}"
    for needle in (secret, secret.removeprefix("whsec_"), signature.removeprefix("v1,")):
        assert needle not in caplog.text
        assert needle not in stored
    assert event.id in caplog.text  # the log does say which event it was


def test_a_rotated_secret_signs_the_next_attempt(organization, receiver):
    receiver.statuses = [500, 200]
    endpoint = _endpoint(organization, receiver)
    event = _event(organization)
    start = timezone.now()
    deliver_event(event.id, now=start)

    [old] = receiver.secrets
    receiver.secrets[:] = [rotate_secret(endpoint)]
    deliver_due(now=start + timedelta(seconds=10))

    assert receiver.verified == [True, True]
    retry_headers, retry_body = receiver.headers[1], receiver.bodies[1]
    assert not verify([old], retry_headers, retry_body, now=int(time.time()))
    assert _delivery(event).state == DELIVERED
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == receiver.secrets[0]


def test_a_claim_held_by_a_dead_worker_lapses_and_the_delivery_is_retried(organization, receiver):
    _endpoint(organization, receiver)
    event = _event(organization)
    start = timezone.now()
    # A worker that claimed the delivery and was killed before sending anything.
    assert webhook_delivery._claim(_delivery(event).pk, start) is not None

    assert deliver_due(now=start + LEASE - timedelta(seconds=1)) == 0
    assert deliver_due(now=start + LEASE) == 1

    assert _delivery(event).state == DELIVERED
    assert len(receiver.bodies) == 1


def test_an_inactive_endpoints_delivery_is_held_until_it_is_active_again(organization, receiver):
    endpoint = _endpoint(organization, receiver)
    event = _event(organization)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)

    assert deliver_event(event.id) == 0
    assert deliver_due(now=timezone.now() + timedelta(days=10)) == 0
    delivery = _delivery(event)
    assert (delivery.state, delivery.attempts) == (PENDING, 0)
    assert receiver.bodies == []

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=True)
    assert deliver_due() == 1
    assert _delivery(event).state == DELIVERED


def test_a_loopback_url_is_refused_at_creation_without_allow_private(organization, settings):
    settings.TOLLGATE_WEBHOOKS_ALLOW_PRIVATE = False
    for url in ("https://127.0.0.1/hook", "https://[::1]/hook", "https://169.254.169.254/"):
        with pytest.raises(WebhookEndpointError, match="not a public address"):
            create_endpoint(organization, url, [])
    with pytest.raises(WebhookEndpointError, match="https://"):
        create_endpoint(organization, "http://example.com/hook", [])
    assert not WebhookEndpoint.objects.exists()


def test_a_loopback_url_is_refused_at_send_time_and_retried_later(organization, receiver, settings):
    _endpoint(organization, receiver)  # saved while loopback was allowed
    event = _event(organization)
    settings.TOLLGATE_WEBHOOKS_ALLOW_PRIVATE = False

    assert deliver_event(event.id) == 1

    assert receiver.bodies == []
    delivery = _delivery(event)
    [attempt] = _attempts(delivery)
    assert "https://" in attempt.error
    assert (delivery.state, delivery.attempts) == (PENDING, 1)
    assert delivery.next_attempt_at is not None


def test_unknown_event_types_are_refused_and_known_ones_kept_in_order(organization, receiver):
    with pytest.raises(WebhookEndpointError, match=r"invoice\.paid"):
        create_endpoint(organization, receiver.url, ["invoice.paid"])
    endpoint, secret = create_endpoint(
        organization, f"  {receiver.url} ", ["credit_note.created", "invoice.finalized"] * 2
    )
    assert endpoint.event_types == ["invoice.finalized", "credit_note.created"]
    assert endpoint.url == receiver.url
    assert endpoint.secret == secret
    assert secret.startswith("whsec_")


def test_after_the_last_scheduled_attempt_the_delivery_is_failed(organization):
    port = _free_port()  # nobody listens there: every attempt is refused at once
    create_endpoint(organization, f"http://127.0.0.1:{port}/", [])
    event = _event(organization)
    now = timezone.now()  # moved to each retry's time: about 87 hours pass, none waited

    for _ in range(MAX_ATTEMPTS):
        assert deliver_due(now=now) == 1
        delivery = _delivery(event)
        if delivery.next_attempt_at is not None:
            now = delivery.next_attempt_at

    delivery = _delivery(event)
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (
        FAILED,
        MAX_ATTEMPTS,
        None,
    )
    assert len(_attempts(delivery)) == MAX_ATTEMPTS
    assert deliver_due(now=now + timedelta(days=365)) == 0


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_attempt_each_delivery_once(organization, receiver, monkeypatch):
    monkeypatch.setattr(events, "_hand_off", lambda event_id: None)  # no Celery here
    receiver.delay_s = 0.05
    _endpoint(organization, receiver)
    sent = [_event(organization, number) for number in range(1, 7)]
    start = threading.Barrier(2)
    attempted: list[int] = []

    def sweep() -> None:
        try:
            start.wait()
            attempted.append(deliver_due())
        finally:
            connection.close()

    workers = [threading.Thread(target=sweep) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert sum(attempted) == len(sent)
    assert sorted(h["webhook-id"] for h in receiver.headers) == sorted(e.id for e in sent)
    assert DeliveryAttempt.objects.count() == len(sent)
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {DELIVERED}
