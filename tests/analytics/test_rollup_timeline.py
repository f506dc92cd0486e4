"""Chart time axes and coverage marks: which rows a range is read from, and how a gap is
told from no traffic. Pure."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mgmt.analytics import timeline
from mgmt.analytics.timeline import DAY, FULL, GAP, HOUR, MINUTE, NONE, PARTIAL

pytestmark = pytest.mark.pure

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


M0 = timeline.unix_minute(T0)
LATER = M0 + 10 * 1440


def _minutes(count: int, start: int = M0) -> range:
    return range(start, start + count)


@pytest.mark.parametrize(
    ("span", "step"),
    [
        (timedelta(minutes=1), MINUTE),
        (timedelta(hours=6), MINUTE),
        (timedelta(hours=6, seconds=1), HOUR),
        (timedelta(days=14), HOUR),
        (timedelta(days=14, seconds=1), DAY),
        (timedelta(days=365), DAY),
    ],
)
def test_a_range_is_read_from_minutes_up_to_6h_hours_up_to_14_days_then_days(
    span: timedelta, step: timedelta
) -> None:
    assert timeline.step_for(T0, T0 + span) == step


def test_buckets_are_utc_and_cover_a_range_that_starts_mid_bucket() -> None:
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2030, 3, 31, 1, 30, tzinfo=paris)  # the night the clocks go forward
    end = start.astimezone(UTC) + timedelta(hours=3)

    hours = timeline.buckets(start, end, HOUR)

    assert hours == [datetime(2030, 3, 31, h, tzinfo=UTC) for h in (0, 1, 2, 3)]


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        timeline.floor(datetime(2030, 1, 1), MINUTE)


def test_every_known_node_covering_the_whole_minute_is_full() -> None:
    cover = {m: {"a": 60, "b": 60} for m in _minutes(3)}

    assert timeline.minute_marks(cover, _minutes(3), folded_before=LATER) == [FULL] * 3


def test_a_node_seen_before_and_missing_now_makes_a_partial_minute_and_all_missing_a_gap() -> None:
    minutes = _minutes(4)
    cover = {minutes[0]: {"a": 60, "b": 60}, minutes[1]: {"a": 60}, minutes[2]: {"b": 30}}

    marks = timeline.minute_marks(cover, minutes, folded_before=LATER)

    assert marks == [FULL, PARTIAL, PARTIAL, GAP]


def test_before_any_node_was_seen_nothing_is_known() -> None:
    minutes = _minutes(3)

    marks = timeline.minute_marks({minutes[2]: {"a": 60}}, minutes, folded_before=LATER)

    assert marks == [NONE, NONE, FULL]


def test_a_node_is_known_for_24_hours_after_it_was_last_seen() -> None:
    seen = M0 - 23 * 60 - 59
    minutes = _minutes(3)

    marks = timeline.minute_marks({seen: {"a": 60}}, minutes, folded_before=LATER)

    assert marks == [GAP, GAP, NONE]


def test_minutes_not_folded_yet_are_not_called_gaps() -> None:
    minutes = _minutes(3)
    cover = {minutes[0]: {"a": 60}}

    marks = timeline.minute_marks(cover, minutes, folded_before=minutes[1])

    assert marks == [FULL, NONE, NONE]


@pytest.mark.parametrize(
    ("marks", "combined"),
    [
        ([FULL, FULL], FULL),
        ([FULL, NONE], FULL),
        ([GAP, GAP, NONE], GAP),
        ([FULL, GAP], PARTIAL),
        ([PARTIAL, FULL], PARTIAL),
        ([NONE, NONE], NONE),
        ([], NONE),
    ],
)
def test_a_bucket_combines_its_minutes_marks(marks: list[str], combined: str) -> None:
    assert timeline.combine(marks) == combined
