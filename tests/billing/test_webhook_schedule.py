"""The retry schedule: its shape, its jitter, its horizon, and what counts as success."""

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from mgmt.billing.webhook_schedule import (
    JITTER,
    MAX_ATTEMPTS,
    NOMINAL_HORIZON,
    RETRY_DELAYS,
    SHORTEST_HORIZON,
    is_retryable,
    is_success,
    next_attempt_at,
)

pytestmark = pytest.mark.pure

START = datetime(2025, 3, 30, 0, 59, tzinfo=UTC)


class Fixed:
    """A random source that always draws `value` (or the bound it asks for)."""

    def __init__(self, value: float | None = None, *, end: str = "") -> None:
        self.value = value
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        if self.end == "low":
            return a
        if self.end == "high":
            return b
        assert self.value is not None
        return self.value


def attempt_times(rng: Fixed | random.Random) -> list[datetime]:
    """Every attempt's time when each one fails the moment it is made."""
    times = [START]
    attempt = 1
    while (following := next_attempt_at(attempt, times[-1], rng)) is not None:
        times.append(following)
        attempt += 1
    return times


def test_nominal_schedule_is_the_svix_one_then_every_12_hours() -> None:
    expected = (
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
        *[timedelta(hours=12)] * 5,
    )
    assert expected == RETRY_DELAYS
    assert MAX_ATTEMPTS == 13
    assert timedelta(hours=87, minutes=35, seconds=5) == NOMINAL_HORIZON


def test_without_jitter_attempts_follow_the_table() -> None:
    times = attempt_times(Fixed(1.0))
    assert [later - START for later in times[:5]] == [
        timedelta(0),
        timedelta(seconds=5),
        timedelta(minutes=5, seconds=5),
        timedelta(minutes=35, seconds=5),
        timedelta(hours=2, minutes=35, seconds=5),
    ]
    assert times[-1] - START == NOMINAL_HORIZON


def test_delays_never_shrink_and_attempt_times_strictly_increase() -> None:
    assert list(RETRY_DELAYS) == sorted(RETRY_DELAYS)
    for seed in range(50):
        times = attempt_times(random.Random(seed))
        assert len(times) == MAX_ATTEMPTS
        assert all(earlier < later for earlier, later in itertools.pairwise(times))


@pytest.mark.parametrize("attempt", range(1, MAX_ATTEMPTS))
def test_jitter_stays_within_ten_percent(attempt: int) -> None:
    nominal = RETRY_DELAYS[attempt - 1]
    rng = random.Random(attempt)
    delays = [next_attempt_at(attempt, START, rng) for _ in range(200)]
    waits = [when - START for when in delays if when is not None]
    assert len(waits) == 200
    assert all(nominal * (1 - JITTER) <= wait <= nominal * (1 + JITTER) for wait in waits)
    assert len(set(waits)) > 100  # it does vary


def test_a_random_source_out_of_range_is_clamped() -> None:
    assert next_attempt_at(1, START, Fixed(5.0)) == START + timedelta(seconds=5.5)
    assert next_attempt_at(1, START, Fixed(-3.0)) == START + timedelta(seconds=4.5)


def test_gives_up_after_the_last_attempt() -> None:
    assert next_attempt_at(MAX_ATTEMPTS - 1, START, Fixed(1.0)) is not None
    assert next_attempt_at(MAX_ATTEMPTS, START, Fixed(1.0)) is None
    assert next_attempt_at(MAX_ATTEMPTS + 5, START, Fixed(1.0)) is None


def test_a_receiver_down_for_three_days_loses_nothing_even_at_the_shortest_jitter() -> None:
    shortest = attempt_times(Fixed(end="low"))
    longest = attempt_times(Fixed(end="high"))
    assert shortest[-1] - START == SHORTEST_HORIZON
    assert timedelta(days=3) <= SHORTEST_HORIZON
    assert timedelta(days=1, hours=12) <= SHORTEST_HORIZON  # a day down, with margin
    assert longest[-1] - START <= timedelta(days=4, hours=1)


def test_naive_datetimes_and_attempt_zero_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_attempt_at(1, datetime(2025, 1, 1), Fixed(1.0))
    with pytest.raises(ValueError, match="from 1"):
        next_attempt_at(0, START, Fixed(1.0))


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_success_and_not_retried(status: int) -> None:
    assert is_success(status)
    assert not is_retryable(status)


@pytest.mark.parametrize("status", [None, 100, 199, 300, 301, 302, 400, 401, 404, 408, 410, 429])
def test_everything_else_is_a_failure_that_is_retried(status: int | None) -> None:
    assert not is_success(status)
    assert is_retryable(status)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_server_errors_are_retried(status: int) -> None:
    assert not is_success(status)
    assert is_retryable(status)
