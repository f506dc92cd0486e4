"""Billing through the real Envoy: the request path's own counter is the meter of record.

A partner on a priced plan calls through Envoy (some calls to a route of cost 5, some
refused by its rate limit); the period closes (the job run as of a later time): exactly one
invoice, billing exactly the admitted weighted units at the pure pricing function's total,
and one signed webhook event for the issuer.
"""

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from mgmt.billing import tasks, webhook_delivery
from mgmt.billing.models import Invoice, PlanPrice, PriceTier, WebhookDelivery, WebhookEvent
from mgmt.billing.pricing import price_period
from mgmt.billing.webhook_endpoints import create_endpoint
from mgmt.billing.webhook_signing import verify
from mgmt.gateway.models import Organization
from ratelimit_svc.leases import LEASE_TTL_MS
from ratelimit_svc.quota_periods import add_months
from tests.e2e.conftest import Gateway
from tests.e2e.test_rate_limits import call, demo_route, first_counted_call, metered_plan, subscribe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver that keeps what it was sent."""

    received: list[tuple[dict[str, str], bytes]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# One transport: the meter is counted by the same decision on both (the rate-limit e2e
# tests cover the two), and the suite's time is kept under its limit.
@pytest.mark.parametrize("gateway", ["http"], indirect=True)
def test_a_priced_plan_is_invoiced_exactly_what_the_gateway_admitted_once(
    gateway: Gateway, scenario: Any, settings: Any
) -> None:
    settings.TOLLGATE_COUNTERS_REDIS_URL = gateway.redis_url
    settings.TOLLGATE_WEBHOOKS_ALLOW_PRIVATE = True  # the receiver is on loopback
    demo_route(gateway, scenario.demo_key, "/expensive", cost=5)
    plan = metered_plan(40, unit="hour")  # a rate limit, no quota: the billing meter counts
    # Priced before anyone subscribes: the subscription's first snapshot already meters it.
    price = PlanPrice.objects.create(
        plan=plan,
        valid_from=timezone.now() - timedelta(days=1),
        currency="EUR",
        fee=Decimal("9.99"),
        included_units=10,
        model="graduated",
    )
    PriceTier.objects.create(price=price, up_to=15, unit_price=Decimal("0.10"))
    PriceTier.objects.create(price=price, up_to=None, unit_price=Decimal("0.0333"))
    subscriber = subscribe(plan, "Billed client")
    subscription = subscriber.subscription
    issuer = Organization.objects.get(pk=plan.product.organization_id)

    with receiver() as server:
        endpoint, secret = create_endpoint(
            issuer, f"http://127.0.0.1:{server.server_port}/hooks", []
        )
        # The meter job opens the period while the subscription calls (as beat does).
        first_counted_call(gateway, subscriber.key)  # waits for the metered snapshot too
        tasks.meter(now=subscription.started_at.isoformat())
        admitted_units = 1
        statuses = []
        for i in range(30):
            path = "/demo/expensive/x" if i % 3 == 0 else "/demo/x"
            reply = call(gateway, subscriber.key, path)
            statuses.append(reply.status)
            if reply.status == 200:
                admitted_units += 5 if path.startswith("/demo/expensive") else 1
        assert 429 in statuses and statuses.count(200) >= 10  # some refused, most admitted
        time.sleep(3 * LEASE_TTL_MS / 1000)  # leases of the last calls given back

        # The period ends; the job runs as of two minutes after its end, three times.
        period_end = add_months(subscription.started_at, 1)
        later = (period_end + timedelta(minutes=2)).isoformat()
        reports = [tasks.meter(now=later) for _ in range(3)]
        assert [r["closed"] for r in reports] == [1, 0, 0]

        invoice = Invoice.objects.get(period__subscription_ref=subscription.pk, period__index=0)
        assert invoice.state == Invoice.State.FINALIZED
        assert invoice.units == admitted_units
        expected = price_period(price.as_price(), admitted_units)
        assert invoice.total == expected.total
        assert [line.amount for line in invoice.lines.order_by("position")] == [
            line.amount for line in expected.lines
        ]
        assert invoice.number.startswith("INV-") and invoice.sequence == 1

        # One event; delivered once, signed; a later sweep sends nothing again.
        event = WebhookEvent.objects.get(type="invoice.finalized")
        for _ in range(3):
            webhook_delivery.deliver_due(invoice.finalized_at + timedelta(minutes=1))
        assert len(server.received) == 1
        headers, body = server.received[0]
        assert headers["webhook-id"] == event.id
        assert verify([secret], headers, body, now=int(headers["webhook-timestamp"]))
        sent = json.loads(body)
        assert sent["type"] == "invoice.finalized"
        assert sent["data"]["invoice"] == invoice.number
        assert sent["data"]["units"] == admitted_units
        assert Decimal(sent["data"]["total"]) == expected.total
        assert WebhookDelivery.objects.get(event=event, endpoint=endpoint).state == "delivered"
