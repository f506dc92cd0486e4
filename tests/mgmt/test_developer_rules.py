"""The developer portal's pure rules: roles, token shapes, requested windows, OpenAPI checks."""

import pytest

from mgmt.developers import tokens
from mgmt.developers.access import checked_windows
from mgmt.developers.errors import InvalidInput
from mgmt.developers.openapi_document import OpenApiDocumentError, parse_openapi_document
from mgmt.developers.roles import Action, may
from mgmt.gateway.models import Role

pytestmark = [pytest.mark.pure]

_DOC = """
openapi: 3.1.0
info: {title: Billing, version: "2"}
paths:
  /invoices:
    get:
      responses:
        "200": {description: the invoices}
"""


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (Role.OWNER, Action.MANAGE_MEMBERS, True),
        (Role.OWNER, Action.MANAGE_APPLICATIONS, True),
        (Role.DEVELOPER, Action.MANAGE_APPLICATIONS, True),
        (Role.DEVELOPER, Action.MANAGE_MEMBERS, False),
        (Role.BILLING, Action.READ, True),
        (Role.BILLING, Action.MANAGE_APPLICATIONS, False),
        (Role.BILLING, Action.MANAGE_MEMBERS, False),
        ("root", Action.READ, False),
    ],
)
def test_each_role_allows_exactly_its_actions(role, action, allowed):
    assert may(role, action) is allowed


def test_an_access_token_is_recognised_by_shape_and_matches_only_its_own_hash():
    issued = tokens.issue_access_token()
    other = tokens.issue_access_token()
    assert issued.secret.startswith("tgp_")
    assert len(issued.secret) == tokens.TOKEN_LENGTH
    assert tokens.access_token_id(issued.secret) == issued.token_id
    assert tokens.matches(issued.secret, issued.token_hash)
    assert not tokens.matches(other.secret, issued.token_hash)
    assert issued.secret.encode() not in issued.token_hash


@pytest.mark.parametrize(
    "presented",
    ["", "tgp_", "tg_abcdefghijkl_" + "x" * 43, "tgp_abcdefghijkl-" + "x" * 43, "tgp_" + "a" * 56],
)
def test_malformed_access_tokens_have_no_id(presented):
    assert tokens.access_token_id(presented) is None


def test_requested_windows_come_back_shortest_first():
    windows = checked_windows(
        [
            {"requests": 5000, "unit": "day"},
            {"requests": 20, "unit": "second", "unit_multiplier": 1},
        ]
    )
    assert windows == [
        {"requests": 20, "unit": "second", "unit_multiplier": 1},
        {"requests": 5000, "unit": "day", "unit_multiplier": 1},
    ]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("10/s", "windows"),
        ([{"requests": 0, "unit": "second"}], "windows.0"),
        ([{"requests": "10", "unit": "second"}], "windows.0.requests"),
        ([{"requests": True, "unit": "second"}], "windows.0.requests"),
        ([{"requests": 10, "unit": "fortnight"}], "windows.0.unit"),
        ([{"requests": 10, "unit": "second", "unit_multiplier": 0}], "windows.0.unit_multiplier"),
        ([{"requests": 10, "unit": "day", "unit_multiplier": 400}], "windows.0"),
        ([{"requests": 10, "unit": "second", "burst": 3}], "windows.0"),
        (
            [
                {"requests": 10, "unit": "minute"},
                {"requests": 9, "unit": "second", "unit_multiplier": 60},
            ],
            "windows",
        ),
        (
            [{"requests": 1, "unit": "second", "unit_multiplier": n} for n in range(1, 10)],
            "windows",
        ),
        (["x"], "windows.0"),
    ],
)
def test_bad_windows_are_refused_naming_the_field(raw, field):
    with pytest.raises(InvalidInput) as refused:
        checked_windows(raw)
    assert list(refused.value.errors) == [field]


def test_a_valid_openapi_document_parses_from_yaml_and_json():
    assert parse_openapi_document(_DOC)["info"]["title"] == "Billing"
    as_json = '{"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": {}}'
    assert parse_openapi_document(as_json)["openapi"] == "3.0.3"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("openapi: [", "not JSON or YAML"),
        ("- a list", "a mapping"),
        ('{"swagger": "2.0", "info": {}, "paths": {}}', "only OpenAPI 3"),
        ("openapi: 3.1.0\ninfo: {title: T}\npaths: {}\n", "not a valid OpenAPI"),
        ("openapi: 3.0.0\n" + "x: " + "y" * (3 * 1024 * 1024), "larger than"),
        ("!!python/object/apply:os.system ['true']", "not JSON or YAML"),
    ],
)
def test_a_bad_openapi_document_is_refused_with_a_reason(text, says):
    with pytest.raises(OpenApiDocumentError, match=says):
        parse_openapi_document(text)
