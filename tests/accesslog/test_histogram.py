"""The latency histogram: bucket edges, quantiles within the promised error, merge, encoding."""

import random

import pytest

from accesslog import histogram
from accesslog.histogram import (
    MAX_INDEX,
    RELATIVE_ERROR,
    SUB_BUCKETS,
    bucket_bounds,
    bucket_of,
    decode,
    encode,
    merge,
    quantile,
)

pytestmark = pytest.mark.pure


def test_small_values_have_a_bucket_each() -> None:
    for micros in range(2 * SUB_BUCKETS):
        assert bucket_of(micros) == micros
        assert bucket_bounds(micros) == (micros, micros + 1)


def test_negative_durations_count_as_zero() -> None:
    assert bucket_of(-1) == 0
    assert bucket_of(-(10**12)) == 0


@pytest.mark.parametrize("power", range(5, 40))
def test_each_power_of_two_is_split_in_sixteen_buckets(power: int) -> None:
    first = bucket_of(2**power)
    assert bucket_of(2**power - 1) == first - 1
    assert bucket_of(2 ** (power + 1)) == first + SUB_BUCKETS
    assert bucket_bounds(first)[0] == 2**power
    assert bucket_bounds(first + SUB_BUCKETS - 1)[1] == 2 ** (power + 1)


def test_buckets_tile_the_line_without_gaps_or_overlap() -> None:
    previous_high = 0
    for index in range(MAX_INDEX + 1):
        low, high = bucket_bounds(index)
        assert low == previous_high
        assert high > low
        # A bucket is at most 1/16 of its low bound wide: what bounds the error.
        assert (high - low) * SUB_BUCKETS <= max(low, SUB_BUCKETS)
        assert bucket_of(low) == index
        assert bucket_of(high - 1) == index
        previous_high = high


def test_every_value_falls_inside_its_buckets_bounds() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        micros = int(rng.lognormvariate(8, 4))
        low, high = bucket_bounds(bucket_of(micros))
        assert low <= micros < high


def _true_quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    rank = max(1, -(-round(q * len(ordered) * 1e6) // 10**6))  # ceil without float noise
    return ordered[rank - 1]


@pytest.mark.parametrize("seed", range(8))
def test_quantiles_are_within_the_relative_error_of_the_samples(seed: int) -> None:
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(rng.uniform(2, 12), rng.uniform(0.1, 3))) for _ in range(5000)]
    counts: dict[int, int] = {}
    for micros in values:
        index = bucket_of(micros)
        counts[index] = counts.get(index, 0) + 1
    for q in (0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0):
        got = quantile(counts, q)
        want = _true_quantile(values, q)
        assert got is not None
        assert abs(got - want) <= RELATIVE_ERROR * want, (q, got, want)


def test_exact_buckets_read_back_their_value() -> None:
    assert quantile({3: 5}, 0.5) == 3.0
    assert quantile({0: 1}, 1.0) == 0.0


def test_quantile_of_nothing_is_none() -> None:
    assert quantile({}, 0.5) is None
    assert quantile({40: 0}, 0.5) is None


@pytest.mark.parametrize("q", [-0.01, 1.01, float("nan")])
def test_quantile_outside_zero_to_one_is_refused(q: float) -> None:
    with pytest.raises(ValueError):
        quantile({1: 1}, q)


def test_merge_adds_counts_so_quantiles_match_one_histogram_of_everything() -> None:
    rng = random.Random(3)
    left = [rng.randrange(1, 10**6) for _ in range(1000)]
    right = [rng.randrange(1, 10**4) for _ in range(3000)]
    a: dict[int, int] = {}
    b: dict[int, int] = {}
    both: dict[int, int] = {}
    for values, counts in ((left, a), (right, b), (left + right, both)):
        for micros in values:
            counts[bucket_of(micros)] = counts.get(bucket_of(micros), 0) + 1
    merge(a, b)
    assert a == both
    assert quantile(a, 0.9) == quantile(both, 0.9)


def test_encode_is_sorted_and_leaves_out_zero_counts() -> None:
    assert encode({50: 2, 3: 1, 7: 0}) == "3:1,50:2"
    assert encode({}) == ""


def test_decode_reads_back_what_encode_wrote() -> None:
    rng = random.Random(11)
    for _ in range(200):
        counts = {rng.randrange(MAX_INDEX + 1): rng.randrange(1, 10**12) for _ in range(30)}
        assert decode(encode(counts)) == counts
    assert decode("") == {}


@pytest.mark.parametrize(
    "garbage",
    [
        "x",
        "1",
        "1:",
        ":1",
        "1:2,",
        ",1:2",
        "1:2,,3:4",
        "-1:2",
        "1:-2",
        "+1:2",
        " 1:2",
        "1:2 ",
        "1_0:2",
        "1:0",
        "1:2,1:3",
        "1.0:2",
        "\u0661:2",  # an Arabic-Indic digit: int() takes it, we do not
        f"{MAX_INDEX + 1}:1",
        "1:" + "9" * 40,
        "1:2;3:4",
    ],
)
def test_decode_refuses_garbage(garbage: str) -> None:
    with pytest.raises(ValueError):
        decode(garbage)


def test_relative_error_is_half_of_a_bucket_width() -> None:
    assert histogram.RELATIVE_ERROR == 1 / (2 * SUB_BUCKETS)
