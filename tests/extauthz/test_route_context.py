"""The route's context as the sidecar reads it: odd values never raise and never make a
call free or unbounded; the HTTP header round-trips and is parsed once per value."""

import json

import pytest

from extauthz.route_context import MAX_COST, RouteContext, from_header, header_value

pytestmark = pytest.mark.pure

FULL = {
    "api": "200",
    "version": "v2",
    "route": "17",
    "lifecycle": "deprecated",
    "owner": "10",
    "sunset": "1900000000",
    "retired_body": '{"status":410}',
    "cost": "3",
    "failure": "open",
}


def test_a_route_that_names_no_api_has_no_context() -> None:
    assert RouteContext.of({}) is None
    assert RouteContext.of({"api": ""}) is None
    assert RouteContext.of({"api": "", "cost": "5", "failure": "open"}) is None


def test_every_field_is_read() -> None:
    context = RouteContext.of(FULL)
    assert context is not None
    assert (context.api, context.version, context.route) == ("200", "v2", "17")
    assert (context.lifecycle, context.owner) == ("deprecated", "10")
    assert (context.sunset, context.retired_body) == (1_900_000_000, '{"status":410}')
    assert (context.cost, context.fail_closed) == (3, False)


def test_missing_fields_default_to_one_unit_no_sunset_and_fail_closed() -> None:
    context = RouteContext.of({"api": "200"})
    assert context is not None
    assert (context.cost, context.sunset, context.fail_closed) == (1, 0, True)
    assert (context.version, context.route, context.lifecycle, context.owner) == ("",) * 4
    assert context.closed_status == 503


ODD_NUMBERS = [
    "0",
    "00",
    "-1",
    "-0",
    "+5",
    " 5",
    "5 ",
    "1.5",
    "1e3",
    "0x10",
    "abc",
    "",
    "NaN",
    "١٢",  # Arabic-Indic digits: int() would read them, the compiler never writes them
    "9999999",
    "99999999",
    "9" * 40,
    "-" + "9" * 40,
    "\ud800",
    "\x00",
]


@pytest.mark.parametrize("cost", ODD_NUMBERS)
def test_an_odd_cost_never_raises_and_stays_between_one_and_max_cost_plus_one(cost: str) -> None:
    context = RouteContext.of({"api": "200", "cost": cost})
    assert context is not None
    assert 1 <= context.cost <= MAX_COST + 1


@pytest.mark.parametrize("cost", ["1", "2", "9999", str(MAX_COST)])
def test_a_cost_the_compiler_writes_is_kept(cost: str) -> None:
    context = RouteContext.of({"api": "200", "cost": cost})
    assert context is not None and context.cost == int(cost)


@pytest.mark.parametrize("cost", [str(MAX_COST + 1), "50000", "9999999"])
def test_a_cost_past_max_cost_is_clamped_to_max_cost_plus_one(cost: str) -> None:
    context = RouteContext.of({"api": "200", "cost": cost})
    assert context is not None and context.cost == MAX_COST + 1


@pytest.mark.parametrize("sunset", ODD_NUMBERS)
def test_an_odd_sunset_never_raises_and_is_never_negative(sunset: str) -> None:
    context = RouteContext.of({"api": "200", "sunset": sunset})
    assert context is not None
    assert 0 <= context.sunset < 10**16


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cost", "²"),
        ("cost", "1²"),
        ("cost", "①"),
        ("sunset", "²"),
        ("sunset", "17²"),
        ("closed_status", "5²³"),
    ],
)
def test_a_digit_int_cannot_read_is_ignored(field: str, value: str) -> None:
    # str.isdigit() is True for superscripts and circled digits, which int() refuses.
    context = RouteContext.of({"api": "200", field: value})
    assert context is not None
    assert (context.cost, context.sunset, context.closed_status) == (1, 0, 503)


@pytest.mark.parametrize("status", ["500", "502", "503", "599"])
def test_a_5xx_closed_status_is_kept(status: str) -> None:
    context = RouteContext.of({"api": "200", "closed_status": status})
    assert context is not None and context.closed_status == int(status)


@pytest.mark.parametrize(
    "status", ["", "200", "404", "429", "5000", "50", "5x0", "-500", " 500", "600", "١٢٣"]
)
def test_any_other_closed_status_is_503(status: str) -> None:
    context = RouteContext.of({"api": "200", "closed_status": status})
    assert context is not None and context.closed_status == 503


@pytest.mark.parametrize(
    "failure", ["closed", "", "OPEN", "Open", " open", "open ", "opened", "fail-open", "0", "1"]
)
def test_anything_but_open_fails_closed(failure: str) -> None:
    context = RouteContext.of({"api": "200", "failure": failure})
    assert context is not None and context.fail_closed is True


@pytest.mark.parametrize(
    ("headers", "draft03"), [("draft03", True), ("", False), ("DRAFT03", False)]
)
def test_draft03_headers_only_when_the_route_asks_for_them(headers: str, draft03: bool) -> None:
    context = RouteContext.of({"api": "200", "headers": headers})
    assert context is not None and context.draft03 is draft03


def test_open_fails_open() -> None:
    context = RouteContext.of({"api": "200", "failure": "open"})
    assert context is not None and context.fail_closed is False


# The HTTP mode's header.


@pytest.mark.parametrize(
    "values",
    [FULL, {"api": "1"}, {"api": "é\u2028\"'\\", "retired_body": "\n" * 3, "cost": "10001"}],
)
def test_the_header_round_trips(values: dict[str, str]) -> None:
    assert from_header(header_value(values)) == RouteContext.of(values)


def test_the_header_value_does_not_depend_on_key_order() -> None:
    reversed_full = dict(reversed(list(FULL.items())))
    assert header_value(reversed_full) == header_value(FULL)
    assert json.loads(header_value(FULL)) == FULL


def test_a_header_without_an_api_has_no_context() -> None:
    assert from_header(header_value({"route": "1", "cost": "2"})) is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "{",
        "not json",
        '{"api": "1",}',
        "\x00",
        "\ud800",
        '{"api": "\\ud800"',
        "[]",
        '["api", "1"]',
        '"api"',
        "1",
        "null",
        "true",
        "NaN",
        '{"api": 1}',
        '{"api": "1", "cost": 5}',
        '{"api": "1", "cost": null}',
        '{"api": "1", "failure": false}',
        '{"api": ["1"]}',
        '{"api": {"id": "1"}}',
        "[" * 500 + "]" * 500,
    ],
)
def test_junk_in_the_header_has_no_context(value: str | None) -> None:
    assert from_header(value) is None


@pytest.mark.parametrize("value", ["[" * 1000, '{"a":' * 1000, "[" * 100_000 + "]" * 100_000])
def test_deeply_nested_junk_in_the_header_has_no_context(value: str) -> None:
    # json.loads raises RecursionError, not a ValueError, past about 1000 levels.
    assert from_header(value) is None


def test_the_same_header_value_gives_the_same_context_object() -> None:
    value = header_value({"api": "cache-test", "cost": "4"})
    first = from_header(value)
    assert first is not None
    copy = "".join(list(value))  # equal, but another string object
    assert copy is not value
    assert from_header(copy) is first
    assert from_header(value) is first


def test_a_junk_header_value_is_remembered_as_junk() -> None:
    value = '{"api": 1, "cache-test": "junk"}'
    assert from_header(value) is None
    assert from_header("".join(list(value))) is None


def test_different_header_values_give_their_own_contexts() -> None:
    one = from_header(header_value({"api": "cache-test", "cost": "1"}))
    two = from_header(header_value({"api": "cache-test", "cost": "2"}))
    assert one is not None and two is not None
    assert (one.cost, two.cost) == (1, 2)
