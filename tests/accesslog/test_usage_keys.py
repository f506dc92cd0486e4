"""The Redis contract's names: fields and keys round-trip, and anything else is refused."""

import random

import pytest

from accesslog import usage_keys
from accesslog.usage_keys import (
    COUNTERS,
    STATUS_CLASSES,
    Dims,
    cover_key,
    field,
    histogram_metric,
    minute_key,
    minute_of_key,
    parse_field,
    status_class,
)

pytestmark = pytest.mark.pure


def test_field_names_follow_the_contract() -> None:
    assert field(Dims(1, 2, 3, 4, "2xx"), "n") == "1|2|3|4|2xx|n"
    assert field(Dims(0, 0, 0, 0, "other"), "h17") == "0|0|0|0|other|h17"


def test_parse_field_reads_back_every_field() -> None:
    rng = random.Random(5)
    metrics = [*COUNTERS, histogram_metric(0), histogram_metric(977)]
    for _ in range(2000):
        dims = Dims(
            rng.choice([0, rng.randrange(1, 2**63)]),
            rng.randrange(0, 10**6),
            rng.randrange(0, 10**6),
            rng.choice([0, rng.randrange(1, 2**40)]),
            rng.choice(STATUS_CLASSES),
        )
        metric = rng.choice(metrics)
        assert parse_field(field(dims, metric)) == (dims, metric)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "1|2|3|4|2xx",
        "1|2|3|4|2xx|n|x",
        "a|2|3|4|2xx|n",
        "-1|2|3|4|2xx|n",
        "01|2|3|4|2xx|n",
        "+1|2|3|4|2xx|n",
        " 1|2|3|4|2xx|n",
        "1||3|4|2xx|n",
        "1|2|3|4|6xx|n",
        "1|2|3|4|2XX|n",
        "1|2|3|4|2xx|",
        "1|2|3|4|2xx|z",
        "1|2|3|4|2xx|h",
        "1|2|3|4|2xx|h-1",
        "1|2|3|4|2xx|h01",
        "1|2|3|4|2xx|h99999",
        f"{2**63}|2|3|4|2xx|n",
        "1" * 20 + "|2|3|4|2xx|n",
        "\u0661|2|3|4|2xx|n",  # a non-ASCII digit
    ],
)
def test_parse_field_refuses_malformed_names(name: str) -> None:
    assert parse_field(name) is None


def test_keys_carry_their_minute() -> None:
    assert minute_key(29_000_000) == "tollgate:usage:m:29000000"
    assert cover_key(29_000_000) == "tollgate:usage:cover:29000000"
    assert minute_of_key(minute_key(29_000_000)) == 29_000_000
    assert minute_of_key(cover_key(7), usage_keys.COVER_KEY_PREFIX) == 7


@pytest.mark.parametrize(
    "key",
    [
        "tollgate:usage:m:",
        "tollgate:usage:m:x",
        "tollgate:usage:m:-5",
        "tollgate:usage:m:05",
        "tollgate:usage:m:5:folding:abc",
        "tollgate:usage:cover:5",
        "tollgate:usage:keys",
        "other:m:5",
    ],
)
def test_minute_of_key_refuses_other_keys(key: str) -> None:
    assert minute_of_key(key) is None


@pytest.mark.parametrize(
    ("status", "klass"),
    [
        (0, "other"),
        (99, "other"),
        (100, "1xx"),
        (200, "2xx"),
        (299, "2xx"),
        (404, "4xx"),
        (429, "4xx"),
        (503, "5xx"),
        (599, "5xx"),
        (600, "other"),
        (999, "other"),
        (-1, "other"),
    ],
)
def test_status_class_buckets_by_hundreds(status: int, klass: str) -> None:
    assert status_class(status) == klass
