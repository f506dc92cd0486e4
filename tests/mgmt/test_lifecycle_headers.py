"""The lifecycle header values and 410 body, checked against the RFCs' own grammars."""

import json
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest

from mgmt.compiler.lifecycle import (
    Successor,
    deprecation_header,
    link_header,
    retired_problem,
    rfc3339,
    sunset_header,
)

pytestmark = pytest.mark.pure

# RFC 9651 section 3.3.7: sf-date = "@" sf-integer; sf-integer = ["-"] 1*15DIGIT.
SF_DATE = re.compile(r"@-?[0-9]{1,15}")
# RFC 9110 section 5.6.7: IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT.
IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
    r"[0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
)
# RFC 8288 section 3: link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ).
LINK_VALUE = re.compile(r'<([^<>\s"]*)>((?:\s*;\s*[a-z*]+="[^"]*")*)')


def unix(*fields: int) -> int:
    return int(datetime(*fields, tzinfo=UTC).timestamp())  # type: ignore[misc]


def parse_links(value: str) -> list[tuple[str, dict[str, str]]]:
    """A strict RFC 8288 reading: the whole value must be link-values joined by commas."""
    links = []
    position = 0
    while position < len(value):
        match = LINK_VALUE.match(value, position)
        assert match, value[position:]
        params = dict(re.findall(r'([a-z*]+)="([^"]*)"', match.group(2)))
        links.append((match.group(1), params))
        position = match.end()
        if position < len(value):
            assert value[position : position + 2] == ", ", value[position:]
            position += 2
    return links


def test_deprecation_is_a_structured_field_date_of_the_unix_seconds():
    value = deprecation_header(1_761_955_200)
    assert SF_DATE.fullmatch(value)
    assert value == "@1761955200"
    assert int(value[1:]) == 1_761_955_200


def test_sunset_is_the_rfc_9110_example_for_its_instant():
    assert sunset_header(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT"


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (unix(2028, 2, 29, 12, 0, 0), "Tue, 29 Feb 2028 12:00:00 GMT"),
        (unix(2026, 11, 1, 0, 0, 0), "Sun, 01 Nov 2026 00:00:00 GMT"),
        (unix(2030, 12, 31, 23, 59, 59), "Tue, 31 Dec 2030 23:59:59 GMT"),
    ],
    ids=["leap-day", "single-digit-day-zero-padded", "last-second-of-a-year"],
)
def test_sunset_is_an_imf_fixdate_that_round_trips_in_gmt(instant, expected):
    value = sunset_header(instant)
    assert value == expected
    assert IMF_FIXDATE.fullmatch(value)
    parsed = parsedate_to_datetime(value)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0
    assert parsed.timestamp() == instant


def test_link_names_the_successor_and_the_changelog_as_rfc_8288_link_values():
    value = link_header("/payments/v2", "https://docs.example.com/changes")
    assert parse_links(value) == [
        ("/payments/v2", {"rel": "successor-version"}),
        ("https://docs.example.com/changes", {"rel": "deprecation", "type": "text/html"}),
    ]


def test_link_with_only_one_of_them_has_only_that_one():
    assert parse_links(link_header("/payments/v2")) == [
        ("/payments/v2", {"rel": "successor-version"})
    ]
    assert parse_links(link_header(changelog_url="https://x.example/c")) == [
        ("https://x.example/c", {"rel": "deprecation", "type": "text/html"})
    ]
    assert link_header() == ""


def test_a_changelog_url_cannot_break_out_of_its_angle_brackets():
    value = link_header(changelog_url='https://x.example/a b>"; rel="evil"é?q=1,2')
    [(target, params)] = parse_links(value)
    assert target == "https://x.example/a%20b%3E%22;%20rel=%22evil%22%C3%A9?q=1,2"
    assert params == {"rel": "deprecation", "type": "text/html"}
    assert value.isascii()


def test_rfc3339_is_utc_with_a_z():
    assert rfc3339(unix(2026, 11, 1, 0, 0, 0)) == "2026-11-01T00:00:00Z"


def test_retired_problem_names_the_version_its_sunset_successor_and_changelog():
    body = retired_problem(
        "Payments",
        "v1",
        sunset_at=unix(2026, 11, 1, 0, 0, 0),
        successor=Successor("v2", "/payments/v2"),
        changelog_url="https://docs.example.com/changes",
    )
    assert body == json.dumps(json.loads(body), separators=(",", ":"))  # compact
    assert json.loads(body) == {
        "type": "https://tollgate.dev/problems/version-retired",
        "title": "API version retired",
        "status": 410,
        "detail": "Payments v1 was retired on Sun, 01 Nov 2026 00:00:00 GMT. "
        "Use v2 at /payments/v2 instead. What changed: https://docs.example.com/changes",
        "version": "v1",
        "sunset": "2026-11-01T00:00:00Z",
        "successor": {"version": "v2", "path": "/payments/v2"},
        "changelog": "https://docs.example.com/changes",
    }


def test_retired_problem_without_a_date_or_successor_says_only_what_is_known():
    assert json.loads(retired_problem("Payments", "v1")) == {
        "type": "https://tollgate.dev/problems/version-retired",
        "title": "API version retired",
        "status": 410,
        "detail": "Payments v1 was retired.",
        "version": "v1",
    }
