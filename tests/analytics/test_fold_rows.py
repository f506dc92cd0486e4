"""The fold's pure core: claimed hashes parsed into rows, rows added and rolled up, claim
names and closed minutes. No database, no Redis."""

import random

import pytest

from accesslog import histogram, usage_keys
from accesslog.usage_keys import Dims
from mgmt.analytics import claims
from mgmt.analytics.fold_rows import (
    Counts,
    Parsed,
    add_rows,
    parse_cover,
    parse_last_used,
    parse_usage,
    rollup,
)

pytestmark = pytest.mark.pure

A = Dims(3, 4, 5, 6, "2xx")
B = Dims(3, 4, 5, 0, "4xx")


def _hash(fields: dict[str, int]) -> dict[bytes, bytes]:
    return {name.encode(): str(value).encode() for name, value in fields.items()}


def test_a_minute_hash_becomes_one_row_per_dims_with_every_counter() -> None:
    raw = _hash(
        {
            usage_keys.field(A, usage_keys.REQUESTS): 10,
            usage_keys.field(A, usage_keys.ERRORS): 2,
            usage_keys.field(A, usage_keys.THROTTLED): 1,
            usage_keys.field(A, usage_keys.BYTES_IN): 100,
            usage_keys.field(A, usage_keys.BYTES_OUT): 2000,
            usage_keys.field(A, usage_keys.DURATION_SUM): 50_000,
            usage_keys.field(A, usage_keys.UPSTREAM_SUM): 40_000,
            usage_keys.field(A, usage_keys.histogram_metric(70)): 9,
            usage_keys.field(A, usage_keys.histogram_metric(3)): 1,
            usage_keys.field(B, usage_keys.REQUESTS): 4,
        }
    )

    parsed = parse_usage(raw)

    assert parsed.skipped == 0
    assert parsed.rows == {
        A: Counts(10, 2, 1, 100, 2000, 50_000, 40_000, {70: 9, 3: 1}),
        B: Counts(requests=4),
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("3|4|5|6|2xx", b"1"),  # no metric
        ("3|4|5|6|2xx|zz", b"1"),  # unknown metric
        ("3|4|5|6|7xx|n", b"1"),  # unknown status class
        ("03|4|5|6|2xx|n", b"1"),  # not a canonical id
        ("-3|4|5|6|2xx|n", b"1"),
        ("3|4|5|6|2xx|n", b"-1"),  # HINCRBY never made it negative
        ("3|4|5|6|2xx|n", b"1.5"),
        ("3|4|5|6|2xx|n", b""),
        ("3|4|5|6|2xx|n", b"01"),
        ("3|4|5|6|2xx|h9999", b"1"),  # beyond the histogram's last bucket
    ],
)
def test_a_malformed_field_is_skipped_and_counted_and_credits_no_row(
    name: str, value: bytes
) -> None:
    good = usage_keys.field(B, usage_keys.REQUESTS).encode()

    parsed = parse_usage({name.encode(): value, good: b"7"})

    assert parsed.skipped == 1
    assert parsed.rows == {B: Counts(requests=7)}


def test_a_field_name_that_is_not_utf8_is_skipped() -> None:
    parsed = parse_usage({b"\xff\xfe|4|5|6|2xx|n": b"1"})

    assert parsed == Parsed({}, 1)


def test_zero_counts_make_no_row() -> None:
    parsed = parse_usage({usage_keys.field(A, usage_keys.REQUESTS).encode(): b"0"})

    assert parsed.rows == {}
    assert parsed.skipped == 0


def test_adding_rows_sums_counters_and_merges_histograms() -> None:
    into = {A: Counts(requests=1, errors=1, histogram={5: 1})}

    add_rows(into, {A: Counts(requests=2, histogram={5: 2, 9: 1}), B: Counts(requests=3)})

    assert into == {
        A: Counts(requests=3, errors=1, histogram={5: 3, 9: 1}),
        B: Counts(requests=3),
    }


def test_adding_does_not_share_the_added_rows_histograms() -> None:
    other = {B: Counts(requests=1, histogram={1: 1})}
    into: dict[Dims, Counts] = {}

    add_rows(into, other)
    into[B].histogram[1] += 5

    assert other[B].histogram == {1: 1}


def test_an_hour_rolled_up_from_random_minutes_equals_the_sum_of_its_minutes() -> None:
    rng = random.Random(14)
    dims = [Dims(rng.randrange(3), 1, rng.randrange(4), rng.randrange(5), "2xx") for _ in range(20)]
    minutes = []
    samples: dict[Dims, list[int]] = {}
    for _ in range(60):
        for d in rng.sample(dims, 5):
            latencies = [rng.randrange(1, 2_000_000) for _ in range(rng.randrange(1, 6))]
            samples.setdefault(d, []).extend(latencies)
            hist: dict[int, int] = {}
            for micros in latencies:
                histogram.merge(hist, {histogram.bucket_of(micros): 1})
            minutes.append((d, Counts(requests=len(latencies), histogram=hist)))

    hour = rollup(minutes)

    assert {d: c.requests for d, c in hour.items()} == {d: len(s) for d, s in samples.items()}
    for d, latencies in samples.items():
        p99 = histogram.quantile(hour[d].histogram, 0.99)
        exact = sorted(latencies)[max(0, -(-99 * len(latencies) // 100) - 1)]
        assert p99 is not None
        assert abs(p99 - exact) <= exact * histogram.RELATIVE_ERROR


def test_cover_seconds_are_capped_at_the_minute_and_bad_nodes_skipped() -> None:
    parsed = parse_cover(
        {b"envoy-1": b"60", b"envoy-2": b"75", b"envoy-3": b"12", b"": b"5", b"x" * 201: b"5"}
    )

    assert parsed.seconds == {"envoy-1": 60, "envoy-2": 60, "envoy-3": 12}
    assert parsed.skipped == 2


def test_last_used_keeps_well_formed_key_ids_and_never_a_future_time() -> None:
    parsed = parse_last_used(
        {
            b"abcdefgh2345": b"1000",
            b"zzzzzzzzzzz7": b"9999",  # ahead of now
            b"ABCDEFGH2345": b"1000",  # key ids are lower case
            b"abcdefgh234": b"1000",  # too short
            b"abcdefgh2341": b"1000",  # 1 is not base32
            b"qqqqqqqqqqqq": b"0",
            b"rrrrrrrrrrrr": b"soon",
        },
        now=5000,
    )

    assert parsed.used == {"abcdefgh2345": 1000, "zzzzzzzzzzz7": 5000}
    assert parsed.skipped == 5


def test_a_claim_name_round_trips_and_fits_the_batch_id_column() -> None:
    claim = claims.new_claim(claims.USAGE, 29_000_000)

    assert claims.parse_claim(claim.key) == claim
    assert claim.source == usage_keys.minute_key(29_000_000)
    assert len(claims.new_claim(claims.COVER, 10**18).batch_id) <= 64
    assert claims.new_claim(claims.LAST_USED).source == usage_keys.LAST_USED_KEY


@pytest.mark.parametrize(
    "key",
    [
        "tollgate:usage:folding:m:12",
        "tollgate:usage:folding:x:12:" + "a" * 32,
        "tollgate:usage:folding:m:012:" + "a" * 32,
        "tollgate:usage:folding:m:12:" + "A" * 32,
        "tollgate:usage:folding:keys:12:" + "a" * 32,  # the keys hash has no minute
        "tollgate:usage:folding:m:0:" + "a" * 32,
        "tollgate:usage:m:12",
    ],
)
def test_a_key_no_claim_made_is_not_taken_for_one(key: str) -> None:
    assert claims.parse_claim(key) is None


def test_a_minute_is_closed_once_the_settle_delay_after_its_end_has_passed() -> None:
    minute = 28_000_000
    end = (minute + 1) * 60

    assert claims.closed_minutes(end + 89, settle_seconds=90)[-1] == minute - 1
    assert claims.closed_minutes(end + 90, settle_seconds=90)[-1] == minute


def test_closed_minutes_reach_back_as_far_as_a_hash_can_live() -> None:
    now = 28_000_000 * 60
    minutes = claims.closed_minutes(now, settle_seconds=90)

    assert minutes[0] == now // 60 - usage_keys.KEY_TTL_SECONDS // 60
