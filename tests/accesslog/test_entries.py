"""Reading Envoy's entries: exact facts, attribution only from Tollgate's own tags and
metadata, and no input that makes the reader raise or guess."""

from __future__ import annotations

import random

import pytest
from envoy.data.accesslog.v3 import accesslog_pb2

from accesslog.entries import Facts, parse_id, read
from tests.accesslog.builders import MINUTE0, T0, entry, key_id

pytestmark = pytest.mark.pure


def _read(e: accesslog_pb2.HTTPAccessLogEntry, now_minute: int = MINUTE0) -> Facts:
    facts = read(e, now_minute)
    assert facts is not None
    return facts


def test_a_routed_request_of_an_application_is_read_exactly() -> None:
    facts = _read(
        entry(
            api=11,
            version=12,
            route=13,
            application=14,
            key=15,
            status=201,
            start=T0 + 59.9,
            total_us=2_500,
            upstream_us=1_700,
            bytes_in=(300, 45),
            bytes_out=(150, 2_000),
        )
    )
    assert facts == Facts(
        minute=MINUTE0,
        dims=(11, 12, 13, 14, "2xx"),
        bytes_in=345,
        bytes_out=2_150,
        duration_us=2_500,
        upstream_us=1_700,
        error=False,
        throttled=False,
        key_id=key_id(15),
    )


def test_the_sidecars_grpc_mode_metadata_is_read_like_its_http_mode() -> None:
    facts = _read(entry(application=7, key=8, grpc_mode=True))
    assert facts.dims[3] == 7
    assert facts.key_id == key_id(8)


def test_the_minute_is_the_start_times() -> None:
    assert _read(entry(start=T0 + 60), now_minute=MINUTE0 + 3).minute == MINUTE0 + 1
    assert _read(entry(start=T0 - 0.5), now_minute=MINUTE0).minute == MINUTE0 - 1


@pytest.mark.parametrize("start", [0, 1, T0 - 2 * 86400, T0 + 3600])
def test_a_start_time_from_a_broken_clock_counts_in_the_minute_it_arrived(start: float) -> None:
    assert _read(entry(start=start)).minute == MINUTE0


@pytest.mark.parametrize(
    "tags",
    [
        {"api": None, "version": None, "route": None},
        {"api": 1, "version": 2, "route": None},
        {"api": None, "version": 2, "route": 3},
        {"api": "abc", "version": 2, "route": 3},
        {"api": "0", "version": 2, "route": 3},
        {"api": "-1", "version": 2, "route": 3},
        {"api": "01", "version": 2, "route": 3},
        {"api": "+1", "version": 2, "route": 3},
        {"api": " 1", "version": 2, "route": 3},
        {"api": "1.0", "version": 2, "route": 3},
        {"api": "1e3", "version": 2, "route": 3},
        {"api": "\u0661", "version": 2, "route": 3},
        {"api": "9" * 19, "version": 2, "route": 3},
        {"api": "1" * 20, "version": 2, "route": 3},
        {"api": "1" * 10_000, "version": 2, "route": 3},
        {"api": "", "version": "", "route": ""},
    ],
)
def test_missing_or_garbage_tags_leave_the_request_unattributed(tags: dict[str, object]) -> None:
    facts = _read(entry(application=5, **tags))  # type: ignore[arg-type]
    assert facts.dims[:3] == (0, 0, 0)
    assert facts.dims[3] == 5  # the application is the sidecar's word, not the tags'


@pytest.mark.parametrize(
    "value", ["x", "0", "-3", "05", "3.0", "1" * 25, "", "ABCDEFGHIJKL", "abcdefghijk1", "a" * 13]
)
def test_a_garbage_application_or_key_id_is_no_application_and_no_key(value: str) -> None:
    facts = _read(entry(application=value, key=value))
    assert facts.dims[3] == 0
    assert facts.key_id == ""
    assert facts.dims[:3] == (1, 2, 3)


def test_an_application_id_that_is_not_a_string_is_not_read() -> None:
    e = entry()
    fields = e.common_properties.metadata.filter_metadata["envoy.filters.http.ext_authz"].fields
    fields["x-tollgate-application-id"].number_value = 42
    fields["x-tollgate-key-id"].bool_value = True
    facts = _read(e)
    assert (facts.dims[3], facts.key_id) == (0, "")


def test_metadata_of_other_filters_is_not_read() -> None:
    e = entry()
    other = e.common_properties.metadata.filter_metadata["envoy.filters.http.lua"]
    other.fields["x-tollgate-application-id"].string_value = "9"
    assert _read(e).dims[3] == 0


def test_a_huge_path_changes_nothing() -> None:
    assert _read(entry(path="/" + "a" * 100_000)) == _read(entry())


@pytest.mark.parametrize(
    ("status", "klass", "error"),
    [
        (0, "other", False),
        (99, "other", False),
        (100, "1xx", False),
        (304, "3xx", False),
        (499, "4xx", False),
        (500, "5xx", True),
        (599, "5xx", True),
        (600, "other", True),
        (999, "other", True),
    ],
)
def test_status_classes_and_errors(status: int, klass: str, error: bool) -> None:
    facts = _read(entry(status=status))
    assert facts.dims[4] == klass
    assert facts.error is error


def test_only_the_gateways_own_429_is_throttled() -> None:
    assert _read(entry(status=429, denied=True)).throttled
    assert not _read(entry(status=429, denied=False)).throttled  # the upstream's 429
    assert not _read(entry(status=403, denied=True)).throttled


def test_a_request_without_a_response_lasts_as_long_as_its_stream() -> None:
    e = entry(status=0, total_us=None)
    e.common_properties.duration.FromMicroseconds(40_000)
    assert _read(e).duration_us == 40_000
    assert _read(entry(status=0, total_us=None)).duration_us == 0


def test_upstream_time_needs_both_ends() -> None:
    assert _read(entry(upstream_us=None)).upstream_us == 0
    e = entry()
    e.common_properties.time_to_last_upstream_rx_byte.FromMicroseconds(900)
    assert _read(e).upstream_us == 0
    e = entry()
    e.common_properties.time_to_first_upstream_tx_byte.FromMicroseconds(900)
    assert _read(e).upstream_us == 0


@pytest.mark.parametrize(
    "log_type",
    [
        accesslog_pb2.AccessLogType.DownstreamStart,
        accesslog_pb2.AccessLogType.DownstreamPeriodic,
        accesslog_pb2.AccessLogType.UpstreamEnd,
        accesslog_pb2.AccessLogType.UpstreamPeriodic,
    ],
)
def test_entries_other_than_a_requests_last_are_not_requests(log_type: int) -> None:
    assert read(entry(log_type=log_type), MINUTE0) is None


def test_an_entry_of_old_envoys_without_a_type_is_a_request() -> None:
    assert read(entry(log_type=accesslog_pb2.AccessLogType.NotSet), MINUTE0) is not None


@pytest.mark.parametrize("thing", [None, 42, "entry", accesslog_pb2.TCPAccessLogEntry()])
def test_something_that_is_not_an_http_entry_is_none(thing: object) -> None:
    assert read(thing, MINUTE0) is None


def test_random_entries_never_raise_and_never_attribute_garbage() -> None:
    rng = random.Random(1)
    alphabet = ["1", "42", "0", "", "x", "-1", "\u0661", "9" * 30, "07", " 5", "3\x00"]
    for _ in range(3000):
        e = accesslog_pb2.HTTPAccessLogEntry()
        common = e.common_properties
        for tag in ("tollgate.api", "tollgate.version", "tollgate.route", "other"):
            if rng.random() < 0.7:
                common.custom_tags[tag] = rng.choice(alphabet)
        if rng.random() < 0.5:
            fields = common.metadata.filter_metadata["envoy.filters.http.ext_authz"].fields
            fields["x-tollgate-application-id"].string_value = rng.choice(alphabet)
        common.start_time.seconds = rng.choice([0, -5, T0, 2**40])
        common.time_to_last_downstream_tx_byte.seconds = rng.choice([0, -1, 10**9])
        common.time_to_last_downstream_tx_byte.nanos = rng.choice([0, -999, 999_999_999])
        e.response.response_code.value = rng.choice([0, 200, 429, 999, 2**32 - 1])
        e.request.request_body_bytes = rng.choice([0, 2**64 - 1])
        facts = read(e, MINUTE0)
        assert facts is not None
        api, version, route, application, _ = facts.dims
        assert (api, version, route) in {(0, 0, 0), (42, 42, 42), (1, 1, 1)} or all(
            v in (1, 42) for v in (api, version, route)
        )
        assert application in (0, 1, 42)
        assert facts.duration_us >= 0
        assert facts.upstream_us >= 0


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("42", 42),
        (str(2**63 - 1), 2**63 - 1),
        (str(2**63), 0),
        (None, 0),
        ("", 0),
        ("0", 0),
        ("00", 0),
        ("-0", 0),
        ("1_000", 0),
        ("\uff11", 0),  # a full-width digit
    ],
)
def test_ids_are_plain_positive_decimals_that_fit_a_bigint(text: str | None, value: int) -> None:
    assert parse_id(text) == value
    assert parse_id(text) == value  # the second time from the cache
