"""API lifecycle through the real Envoy: deprecation headers, 410 after the sunset (on the
second by ext_authz, then as a route of its own once the job retired it), drafts hidden
from partners, and versions chosen by path prefix or by header."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from django.db import transaction
from django.utils import timezone

from mgmt.gateway import deprecation_job, lifecycle, services
from mgmt.gateway.lifecycle import Actor
from mgmt.gateway.models import (
    Api,
    ApiVersion,
    Application,
    Endpoint,
    Organization,
    Plan,
    Product,
    Route,
    Subscription,
    Upstream,
)
from tests.e2e.conftest import Gateway, wait_until
from tests.e2e.http import Reply, request
from tests.e2e.scenario import Scenario

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
OWNER = Actor(None, "e2e owner")
CHANGELOG = "https://docs.example.test/billing/changes"
# RFC 8288: `<uri>; param=value; ...`, several per header separated by commas.
_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[a-z*]+="?[^",;]*"?\s*)*)')


@dataclass
class Billing:
    api: Api
    v1: ApiVersion
    v2: ApiVersion
    v3: ApiVersion  # draft
    owner_key: str


@transaction.atomic
def _billing(gateway: Gateway) -> Billing:
    acme = Organization.objects.get(slug="acme")
    product = Product.objects.get(slug="demo")
    green = Upstream.objects.create(organization=acme, name="billing-green")
    Endpoint.objects.create(upstream=green, host="127.0.0.1", port=gateway.upstream_ports[1])
    blue = Upstream.objects.get(name="demo")
    api = Api.objects.create(
        organization=acme, product=product, name="Billing", slug="billing", base_path="/billing"
    )
    v1 = ApiVersion.objects.create(api=api, version="v1", path_prefix="/v1", lifecycle="published")
    v2 = ApiVersion.objects.create(api=api, version="v2", path_prefix="/v2", lifecycle="published")
    v3 = ApiVersion.objects.create(api=api, version="v3", path_prefix="/v3", lifecycle="draft")
    Route.objects.create(api_version=v1, path="/invoices", upstream=blue)
    Route.objects.create(api_version=v2, path="/invoices", upstream=green)
    Route.objects.create(api_version=v3, path="/invoices", upstream=green)
    # The API owner's own application, to try the draft before partners see it.
    tester = Application.objects.create(organization=acme, name="Acme test app")
    Subscription.objects.create(
        application=tester, product=product, plan=Plan.objects.get(slug="free")
    )
    key = services.create_api_key(application=tester).secret
    return Billing(api, v1, v2, v3, key)


@pytest.fixture
def billing(gateway: Gateway, scenario: Scenario) -> Billing:
    world = _billing(gateway)
    wait_until(
        lambda: _get(gateway, "/billing/v2/invoices", scenario.demo_key).status == 200,
        timeout=5,
        what="the Billing API serves",
    )
    return world


def _get(gateway: Gateway, path: str, key: str | None = None, **headers: str) -> Reply:
    if key is not None:
        headers["x-api-key"] = key
    return request(gateway.ports.gateway, path, headers)


def _links(reply: Reply) -> dict[str, str]:
    """rel -> target of every Link header value."""
    found = {}
    for value in reply.header_values("link"):
        for target, params in _LINK.findall(value):
            rel = re.search(r'rel="?([^";]+)"?', params)
            assert rel, value
            found[rel.group(1)] = target
    return found


def _assert_retired_problem(reply: Reply) -> None:
    assert reply.status == 410
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["type"] == "https://tollgate.dev/problems/version-retired"
    assert problem["status"] == 410
    assert problem["successor"] == {"version": "v2", "path": "/billing/v2"}
    assert "v2" in problem["detail"] and "/billing/v2" in problem["detail"]


def test_a_deprecated_version_carries_deprecation_sunset_and_link_headers(
    gateway: Gateway, scenario: Scenario, billing: Billing
) -> None:
    deprecated_at = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    sunset = timezone.now().replace(microsecond=0) + timedelta(days=30)
    lifecycle.deprecate_version(
        version=billing.v1,
        actor=OWNER,
        deprecated_at=deprecated_at,
        sunset_at=sunset,
        successor=billing.v2,
        changelog_url=CHANGELOG,
    )
    wait_until(
        lambda: "deprecation" in _get(gateway, "/billing/v1/invoices", scenario.demo_key).headers,
        timeout=2,
        what="the deprecation reaches Envoy",
    )
    reply = _get(gateway, "/billing/v1/invoices", scenario.demo_key)
    assert reply.status == 200 and reply.json()["upstream"] == "blue"
    # RFC 9745: a structured-field Date, "@" and the Unix seconds.
    assert reply.headers["deprecation"] == f"@{int(deprecated_at.timestamp())}"
    assert re.fullmatch(r"@\d+", reply.headers["deprecation"])
    # RFC 8594: an HTTP-date (IMF-fixdate, GMT).
    assert reply.headers["sunset"] == format_datetime(sunset, usegmt=True)
    assert parsedate_to_datetime(reply.headers["sunset"]) == sunset
    assert _links(reply) == {"successor-version": "/billing/v2", "deprecation": CHANGELOG}

    successor = _get(gateway, "/billing/v2/invoices", scenario.demo_key)
    assert successor.status == 200
    assert not {"deprecation", "sunset", "link"} & set(successor.headers)


def test_after_the_sunset_the_version_gets_410_and_the_successor_answers(
    gateway: Gateway, scenario: Scenario, billing: Billing
) -> None:
    # Whole seconds, as the Sunset header and the gateway count them.
    sunset = timezone.now().replace(microsecond=0) + timedelta(seconds=3)
    lifecycle.deprecate_version(
        version=billing.v1, actor=OWNER, sunset_at=sunset, successor=billing.v2
    )
    wait_until(
        lambda: "sunset" in _get(gateway, "/billing/v1/invoices", scenario.demo_key).headers,
        timeout=2,
        what="the deprecation reaches Envoy",
    )
    # The gateway enforces the sunset on the second, before any job has run.
    wait_until(
        lambda: _get(gateway, "/billing/v1/invoices", scenario.demo_key).status == 410,
        timeout=5,
        what="410 once the sunset passed",
    )
    assert timezone.now() >= sunset
    _assert_retired_problem(_get(gateway, "/billing/v1/invoices", scenario.demo_key))
    billing.v1.refresh_from_db()
    assert billing.v1.lifecycle == "deprecated"

    report = deprecation_job.run(now=timezone.now())
    assert report.retired == ("Billing v1",)
    # Retired, it is a route of its own: 410 for anyone, any path under it, no key needed.
    # (ext_authz already refuses the routed paths: a path only the retired version's
    # catch-all matches tells that the new routes are in.)
    wait_until(
        lambda: _get(gateway, "/billing/v1/anything/else").status == 410,
        timeout=2,
        what="the retirement reaches Envoy",
    )
    for path, key in [
        ("/billing/v1/invoices", scenario.demo_key),
        ("/billing/v1/invoices", None),
        ("/billing/v1/anything/else", None),
    ]:
        reply = _get(gateway, path, key)
        _assert_retired_problem(reply)
        assert _links(reply) == {"successor-version": "/billing/v2"}
    after = _get(gateway, "/billing/v2/invoices", scenario.demo_key)
    assert after.status == 200 and after.json()["upstream"] == "green"


def test_the_job_run_with_a_clock_past_the_sunset_retires_the_version(
    gateway: Gateway, scenario: Scenario, billing: Billing
) -> None:
    now = timezone.now()
    lifecycle.deprecate_version(
        version=billing.v1, actor=OWNER, sunset_at=now + timedelta(days=7), successor=billing.v2
    )
    assert deprecation_job.run(now=now + timedelta(days=6)).retired == ()
    assert deprecation_job.run(now=now + timedelta(days=7, hours=1)).retired == ("Billing v1",)
    wait_until(
        lambda: _get(gateway, "/billing/v1/invoices", scenario.demo_key).status == 410,
        timeout=2,
        what="the retirement reaches Envoy",
    )
    _assert_retired_problem(_get(gateway, "/billing/v1/invoices", scenario.demo_key))
    assert _get(gateway, "/billing/v2/invoices", scenario.demo_key).status == 200


def test_a_draft_is_404_for_partners_and_200_for_the_owners_own_application(
    gateway: Gateway, scenario: Scenario, billing: Billing
) -> None:
    owner = _get(gateway, "/billing/v3/invoices", billing.owner_key)
    assert owner.status == 200 and owner.json()["upstream"] == "green"
    for key in (scenario.demo_key, None, "tg_nonsense_key"):
        reply = _get(gateway, "/billing/v3/invoices", key)
        assert reply.status == 404, key
        assert reply.json()["type"] == "https://tollgate.dev/problems/unknown-api"

    lifecycle.publish_version(version=billing.v3, actor=OWNER)
    wait_until(
        lambda: _get(gateway, "/billing/v3/invoices", scenario.demo_key).status == 200,
        timeout=2,
        what="the published draft reaches partners",
    )


def test_versions_chosen_by_header_with_a_default_for_requests_without_it(
    gateway: Gateway, scenario: Scenario, billing: Billing
) -> None:
    with transaction.atomic():
        api = Api.objects.create(
            organization=billing.api.organization,
            product=billing.api.product,
            name="Weather",
            slug="weather",
            base_path="/weather",
            version_header="api-version",
        )
        old = ApiVersion.objects.create(api=api, version="2025-01", lifecycle="published")
        new = ApiVersion.objects.create(api=api, version="2026-06", lifecycle="published")
        Route.objects.create(api_version=old, path="/", upstream=Upstream.objects.get(name="demo"))
        Route.objects.create(
            api_version=new, path="/", upstream=Upstream.objects.get(name="billing-green")
        )
        api.default_version = old
        api.save()

    def served_by(version: str | None) -> str:
        headers = {"api-version": version} if version else {}
        reply = _get(gateway, "/weather/today", scenario.demo_key, **headers)
        return f"{reply.status} {reply.json().get('upstream', reply.json().get('type'))}"

    wait_until(lambda: served_by(None) == "200 blue", timeout=2, what="the Weather API serves")
    assert served_by("2025-01") == "200 blue"
    assert served_by("2026-06") == "200 green"
    assert served_by("1999-01") == "404 https://tollgate.dev/problems/unknown-api"
