"""Schemathesis against the developer API's own schema, in process through mgmt.wsgi: no
generated request gets a 5xx, and every refusal is RFC 9457 problem+json."""

import copy
import re
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from rest_framework.settings import api_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

from mgmt.billing.models import BillingPeriod, Invoice
from mgmt.developers import access, accounts
from mgmt.gateway.models import Membership, Role, Subscription
from mgmt.identity import services as identity_services
from mgmt.oauth import services as oauth_services
from mgmt.wsgi import application
from tests.devapi.world import PASSWORD, World, build_world
from tests.mgmt import factories

pytestmark = [pytest.mark.db]

# Hypothesis keeps caches (source constants, Unicode tables) in its home directory, by
# default .hypothesis/ in the working tree; nothing of this run belongs there.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "tollgate-hypothesis")

PROBLEM = "application/problem+json"
UNTHROTTLED = {scope: "1000000/second" for scope in ("signup", "login", "key_creation")}
SUBSCRIPTIONS = "POST /api/v1/orgs/{org}/applications/{app}/subscriptions"


@dataclass
class Real:
    """Values the hooks put in place of generated ones, so requests reach real objects."""

    authorization: str = ""
    # Path parameters naming objects of ours that belong together.
    paths: list[dict[str, str]] = field(default_factory=list)
    # By parameter or field name: ours and another tenant's, to mix with generated values.
    values: dict[str, list[Any]] = field(default_factory=dict)
    # By operation: a body that should succeed, laid over the generated one.
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    turn: int = 0


# The real values of the test being run, for the hooks (which draw while it runs).
REAL = Real()


@pytest.fixture
def world(db: None, settings: Any) -> World:
    # A fast hasher: each operation's test signs up five accounts and logs in many times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return build_world()


def _draft_invoice(subscription: Subscription) -> Invoice:
    """A running draft of the subscription's first period, as the meter fold opens it."""
    start = subscription.started_at
    period = BillingPeriod.objects.create(
        subscription=subscription,
        subscription_ref=subscription.pk,
        index=0,
        starts_at=start,
        ends_at=start + timedelta(days=30),
        issuer_id=subscription.product.organization_id,
        partner_id=subscription.application.organization_id,
        application_name=subscription.application.name,
        product_name=subscription.product.name,
        counter_key=f"tg:{{s{subscription.pk}}}::q1@0",
    )
    return Invoice.objects.create(
        period=period, issuer_id=period.issuer_id, partner_id=period.partner_id, currency="EUR"
    )


def _real(world: World) -> Real:
    """Alice's world (the caller's), a spare application with a subscription and no limit
    request, a plan nobody is subscribed to, and the tokens the account flows look for."""
    alice, bob = world.alice, world.bob
    own = Membership.objects.get(organization=alice.organization, user=alice.user)
    spare = access.create_application(organization=alice.organization, name="spare app")
    spare_key = access.issue_key(application=spare, label="spare key").api_key
    spare_subscription = access.subscribe(application=spare, plan=world.free)
    bronze = factories.plan(product=factories.api_version().api.product, slug="bronze", public=True)
    factories.plan_rate_limit(plan=bronze)
    joiner = accounts.invite(
        organization=alice.organization, by=alice.user, email="joiner@example.com", role=Role.OWNER
    ).token
    to_alice = accounts.invite(
        organization=bob.organization, by=bob.user, email=alice.user.email, role=Role.BILLING
    ).token
    pending = accounts.sign_up(
        email="pending@example.com", password=PASSWORD, organization_name="Pending Corp"
    ).user
    issued = accounts.create_access_token(user=alice.user, label="schemathesis")
    # A client certificate and an OAuth client of each application the run calls.
    certificates = [
        str(
            identity_services.register_client_certificate(
                application=app, fingerprint=f"{n:02x}" * 32
            ).pk
        )
        for n, app in enumerate((alice.application, spare, bob.application), start=1)
    ]
    secrets = [
        oauth_services.create_client(application=app).secret.row.secret_id
        for app in (alice.application, spare, bob.application)
    ]
    ours = {
        "org": alice.org,
        "app": alice.application.public_id,
        "key_id": alice.key.key_id,
        "subscription_id": str(alice.subscription.pk),
        "request_id": str(alice.limit_request.pk),
        "invitation_id": str(alice.invitation.pk),
        "member_id": str(alice.teammate.pk),
        "token_id": issued.access_token.token_id,
        "product": world.free.product.slug,
        "api": world.version.api.slug,
        "version": world.version.version,
        "invoice": str(_draft_invoice(alice.subscription).pk),
        "certificate_id": certificates[0],
        "secret_id": secrets[0],
    }
    spare_ones = {
        **ours,
        "app": spare.public_id,
        "key_id": spare_key.key_id,
        "subscription_id": str(spare_subscription.pk),
        "member_id": str(own.pk),
        "certificate_id": certificates[1],
        "secret_id": secrets[1],
    }
    theirs = {
        "org": bob.org,
        "app": bob.application.public_id,
        "key_id": bob.key.key_id,
        "subscription_id": str(bob.subscription.pk),
        "request_id": str(bob.limit_request.pk),
        "invitation_id": str(bob.invitation.pk),
        "member_id": str(bob.teammate.pk),
        "invoice": str(_draft_invoice(bob.subscription).pk),
        "certificate_id": certificates[2],
        "secret_id": secrets[2],
    }
    values: dict[str, list[Any]] = {
        name: [v for v in dict.fromkeys((ours[name], spare_ones[name], theirs.get(name))) if v]
        for name in ours
    }
    credentials = {"email": alice.user.email, "password": PASSWORD}
    values |= {
        "email": [alice.user.email, "pending@example.com", "joiner@example.com", "new@ex.com"],
        "password": [PASSWORD],
        "plan": [world.free.slug, world.approval.slug, world.private.slug, bronze.slug],
        "token": [accounts.verification_token(pending), to_alice, joiner],
        "invitation_token": [joiner],
    }
    bodies = {
        "POST /api/v1/auth/signup": {
            "email": "new@example.com",
            "password": PASSWORD,
            "organization_name": "New Corp",
            "invitation_token": "",
        },
        "POST /api/v1/auth/verify-email": {"token": accounts.verification_token(pending)},
        "POST /api/v1/auth/resend-verification": {"email": "pending@example.com"},
        "POST /api/v1/auth/session": credentials,
        "POST /api/v1/auth/tokens": credentials,
        "POST /api/v1/invitations/accept": {"token": to_alice},
        SUBSCRIPTIONS: {"plan": bronze.slug},
        f"{SUBSCRIPTIONS}/{{subscription_id}}/limit-requests": {
            "windows": [{"requests": 500, "unit": "minute"}],
            "reason": "launch",
        },
        "POST /api/v1/orgs/{org}/applications/{app}/oauth-client/secrets/{secret_id}/rotate": {
            "overlap_seconds": 0
        },
    }
    return Real(f"Bearer {issued.secret}", [ours, spare_ones], values, bodies)


@pytest.fixture
def real(world: World) -> Iterator[Real]:
    found = _real(world)
    REAL.__dict__.update(found.__dict__)
    yield found
    REAL.__dict__.update(Real().__dict__)


@pytest.fixture
def server_errors() -> Iterator[list[str]]:
    """Django's handler turns an uncaught exception into a bare 500; this keeps its
    traceback for the failure report. Like Django's own test client, it also keeps the
    request signals from closing the connection, which would end the test's transaction."""
    seen: list[str] = []

    def record(sender: Any, request: Any = None, **kwargs: Any) -> None:
        where = f"{request.method} {request.get_full_path()}" if request is not None else "?"
        seen.append(f"server traceback for {where}:\n{traceback.format_exc()}")

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    signals.got_request_exception.connect(record)
    try:
        yield seen
    finally:
        signals.got_request_exception.disconnect(record)
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def unthrottled(settings: Any) -> None:
    # The sign-up, log-in and key-creation throttles would turn most calls into 429s and
    # hide what the operation itself does; the throttles read these rates per request.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": UNTHROTTLED}
    assert api_settings.DEFAULT_THROTTLE_RATES == UNTHROTTLED


# Loaded at collection, with no query, so that every operation is a test of its own; the
# hooks read REAL while a test runs. (schemathesis.pytest.from_fixture fails under
# pytest 9.2: its lazy runner sets request.node._nodeid, which pytest no longer has.)
schema = schemathesis.openapi.from_wsgi("/api/v1/schema?format=json", application)


def _mixed(generated: dict[str, Any], known: dict[str, list[Any]]) -> st.SearchStrategy[Any]:
    """The generated value of each field, or one of the real ones."""
    return st.fixed_dictionaries(
        {name: st.sampled_from([value, *known.get(name, [])]) for name, value in generated.items()}
    )


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
    if not isinstance(path_parameters, dict):  # no path parameters, or a negative case
        return st.just(path_parameters)
    # Our objects all at once reach the deepest paths; a mix tries another tenant's ids
    # under our organization; generated values try everything else.
    ours = st.sampled_from(REAL.paths or [{}]).map(
        lambda real: {name: real.get(name, value) for name, value in path_parameters.items()}
    )
    return st.one_of(ours, _mixed(path_parameters, REAL.values), st.just(path_parameters))


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    if not isinstance(body, dict):
        return st.just(body)
    choices = [_mixed(body, REAL.values), st.just(body)]
    if overlay := REAL.bodies.get(context.operation.label):
        choices.insert(0, st.just({**body, **overlay}).map(copy.deepcopy))
    return st.one_of(choices)


def _at_real_objects(case: Any) -> None:
    """The coverage phase's cases are built before the world exists and vary one body,
    query or header value over placeholder paths (org "0"), which stop at a 404 before the
    value is read: those are sent to our objects instead, one set after the other."""
    meta = case.meta
    if meta is None or meta.phase.name != TestPhase.COVERAGE or not case.path_parameters:
        return
    if meta.phase.data.parameter_location == ParameterLocation.PATH:
        return  # a path parameter is the value under test
    REAL.turn += 1
    ours = REAL.paths[REAL.turn % len(REAL.paths)]
    case.path_parameters = {name: ours.get(name, v) for name, v in case.path_parameters.items()}


def _call(case: Any, real: Real) -> Any:
    """The request, in a savepoint rolled back after it: each starts from the same world."""
    with transaction.atomic():
        response = case.call(headers={"Authorization": real.authorization})
        transaction.set_rollback(True)
    return response


def problem_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx and 5xx is an RFC 9457 problem whose status is the response's."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.split(";")[0].strip() == PROBLEM, (
        f"{response.status_code} answered as {content_type!r}: {response.content[:300]!r}"
    )
    body = response.json()
    assert isinstance(body, dict), f"the problem is not an object: {body!r}"
    assert body.get("status") == response.status_code, f"the problem's status differs: {body}"
    assert str(body.get("type", "")).startswith("https://tollgate.dev/problems/"), body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert isinstance(body.get("detail"), str), body
    return None


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    database=None,  # every run explores afresh; nothing is replayed from disk
    # function_scoped_fixture: every example rolls back what it wrote (_call), so each one
    # starts from the same world.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_no_operation_answers_5xx_and_every_refusal_is_a_problem(
    case: Any, real: Real, server_errors: list[str], unthrottled: None
):
    server_errors.clear()
    _at_real_objects(case)
    response = _call(case, real)
    try:
        case.validate_response(response, checks=[not_a_server_error, problem_json])
    except BaseException as failure:
        for trace in server_errors:
            failure.add_note(trace)
        raise


def test_the_real_values_answer_2xx_so_the_run_reaches_real_objects(
    real: Real, server_errors: list[str], unthrottled: None
):
    # Without this the run above could quietly turn into a run of 404s and 400s.
    ours, spare = real.paths
    operations = [result.ok() for result in schema.get_all_operations()]
    unknown = set(real.bodies) - {operation.label for operation in operations}
    assert not unknown, f"bodies for operations the schema lacks: {sorted(unknown)}"
    answers = {}
    for operation in operations:
        names = re.findall(r"\{(\w+)\}", operation.path)
        if operation.method == "get":
            case = operation.Case(path_parameters={name: ours[name] for name in names})
        elif operation.label in real.bodies:
            case = operation.Case(
                path_parameters={name: spare[name] for name in names},
                body=real.bodies[operation.label],
                media_type="application/json",
            )
        else:
            continue
        answers[operation.label] = _call(case, real).status_code
    refused = {label: status for label, status in answers.items() if not 200 <= status < 300}
    assert not refused, f"{refused}\n" + "\n".join(server_errors)
