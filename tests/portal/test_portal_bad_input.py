"""Bad input on every portal form: the error shows next to the field it is about (or at
the top of its form), the status is 400 or 200 and never 500, and no row is written."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from mgmt.developers import access
from tests.portal.conftest import PASSWORD, Catalog, Tenant, signed_in
from tests.portal.portal_targets import APP, SUB, ids_of, world

pytestmark = [pytest.mark.db, pytest.mark.django_db]


@dataclass(frozen=True)
class BadInput:
    what: str
    target: str
    uses: tuple[str, ...]
    body: Callable[[dict[str, Any]], dict[str, str]]
    shown: Callable[[dict[str, Any]], str]  # the markup that puts the error in its place


def _error_on(field_id: str) -> Callable[[dict[str, Any]], str]:
    return lambda ids: f'id="id_{field_id.format(**ids)}_error"'


def _top_error(text: str) -> Callable[[dict[str, Any]], str]:
    return lambda ids: text


_WINDOW = {"window_0_unit": "second", "window_0_unit_multiplier": "1", "reason": "launch"}
BAD_INPUT = [
    BadInput("empty name", "applications", ("org",), lambda ids: {"name": ""}, _error_on("name")),
    BadInput(
        "taken name",
        "applications",
        ("org",),
        lambda ids: {"name": "alice checkout"},
        _error_on("name"),
    ),
    BadInput(
        "bad contact",
        "applications",
        ("org",),
        lambda ids: {"name": "New", "contact_email": "nope"},
        _error_on("contact_email"),
    ),
    BadInput(
        "edit empty name", "edit-application", APP, lambda ids: {"name": " "}, _error_on("name")
    ),
    BadInput("delete unconfirmed", "delete-application", APP, lambda ids: {}, _error_on("confirm")),
    BadInput(
        "key expired already",
        "create-key",
        APP,
        lambda ids: {"expires_at": "2001-01-01T00:00"},
        _error_on("expires_at"),
    ),
    BadInput(
        "key expiry not a date",
        "create-key",
        APP,
        lambda ids: {"expires_at": "soon"},
        _error_on("expires_at"),
    ),
    BadInput(
        "negative overlap",
        "rotate-key",
        (*APP, "key_id"),
        lambda ids: {f"rotate-{ids['key_id']}-overlap_seconds": "-5"},
        _error_on("rotate-{key_id}-overlap_seconds"),
    ),
    BadInput(
        "overlap not a number",
        "rotate-key",
        (*APP, "key_id"),
        lambda ids: {f"rotate-{ids['key_id']}-overlap_seconds": "a while"},
        _error_on("rotate-{key_id}-overlap_seconds"),
    ),
    BadInput(
        "requests not a number",
        "request-limits",
        SUB,
        lambda ids: {**_WINDOW, "window_0_requests": "lots"},
        _error_on("window_0_requests"),
    ),
    BadInput(
        "a limit of 0",
        "request-limits",
        SUB,
        lambda ids: {**_WINDOW, "window_0_requests": "0"},
        _error_on("window_0_requests"),
    ),
    BadInput(
        "a window without a unit",
        "request-limits",
        SUB,
        lambda ids: {**_WINDOW, "window_0_requests": "5", "window_0_unit": ""},
        _error_on("window_0_unit"),
    ),
    BadInput(
        "a multiplier of 0",
        "request-limits",
        SUB,
        lambda ids: {**_WINDOW, "window_0_requests": "5", "window_0_unit_multiplier": "0"},
        _error_on("window_0_unit_multiplier"),
    ),
    BadInput(
        "two windows of one length",
        "request-limits",
        SUB,
        lambda ids: {
            **_WINDOW,
            "window_0_requests": "5",
            "window_1_requests": "6",
            "window_1_unit": "minute",
            "window_0_unit_multiplier": "60",
        },
        _top_error("two windows of the same length"),
    ),
    BadInput(
        "nothing asked",
        "request-limits",
        SUB,
        lambda ids: {"reason": "more"},
        _top_error("ask for at least one window or a quota"),
    ),
    BadInput(
        "a quota of 0",
        "request-limits",
        SUB,
        lambda ids: {"reason": "more", "quota_requests": "0"},
        _error_on("quota_requests"),
    ),
    BadInput(
        "no reason",
        "request-limits",
        SUB,
        lambda ids: {"quota_requests": "5000"},
        _error_on("reason"),
    ),
    BadInput(
        "invite a bad address",
        "invite",
        ("org",),
        lambda ids: {"email": "not-an-address", "role": "developer"},
        _error_on("email"),
    ),
    BadInput(
        "invite a member",
        "invite",
        ("org",),
        lambda ids: {"email": "alice@example.com", "role": "developer"},
        _error_on("email"),
    ),
    BadInput(
        "invite as a made-up role",
        "invite",
        ("org",),
        lambda ids: {"email": "eve@example.com", "role": "king"},
        _error_on("role"),
    ),
    BadInput(
        "demote the last owner",
        "change-role",
        ("org", "member_id"),
        lambda ids: {f"member-{ids['member_id']}-role": "developer"},
        _error_on("member-{member_id}-role"),
    ),
    BadInput(
        "remove the last owner",
        "remove-member",
        ("org", "member_id"),
        lambda ids: {},
        _top_error("at least one owner"),
    ),
    BadInput(
        "subscribe twice",
        "subscribe",
        (),
        lambda ids: {"plan": "pro", "application": f"{ids['org']}/{ids['public_id']}"},
        _error_on("plan"),
    ),
    BadInput(
        "subscribe to no plan",
        "subscribe",
        (),
        lambda ids: {"application": f"{ids['org']}/{ids['public_id']}"},
        _error_on("plan"),
    ),
]


@pytest.mark.parametrize("case", BAD_INPUT, ids=lambda case: case.what)
def test_bad_input_shows_its_error_in_place_and_writes_nothing(
    alice: Tenant, catalog: Catalog, case: BadInput
) -> None:
    # The fixture's request is pending; withdrawn, the limit rules themselves answer.
    access.withdraw_limit_request(limit_request=alice.limit_request)
    ids = ids_of(alice)
    kwargs = {k: ids[k] for k in case.uses} if case.uses else {"product_slug": "demo"}
    before = world()
    response = signed_in(alice.owner).post(
        reverse(f"portal:{case.target}", kwargs=kwargs), case.body(ids)
    )
    assert response.status_code in (200, 400)
    assert case.shown(ids) in response.content.decode()
    assert world() == before


def test_bad_sign_up_input_shows_its_errors_and_creates_no_account(alice: Tenant) -> None:
    users = User.objects.count()
    client = Client()
    weak = client.post(
        reverse("portal:signup"),
        {"email": "new@example.com", "password": "12345678901", "organization_name": "New"},
    )
    assert weak.status_code == 400 and b'id="id_password_error"' in weak.content
    taken = client.post(
        reverse("portal:signup"),
        {"email": "ALICE@example.com", "password": PASSWORD, "organization_name": "Another"},
    )
    assert taken.status_code == 400 and b'id="id_email_error"' in taken.content
    no_org = client.post(reverse("portal:signup"), {"email": "n@example.com", "password": PASSWORD})
    assert no_org.status_code == 400 and b'id="id_organization_name_error"' in no_org.content
    assert User.objects.count() == users
