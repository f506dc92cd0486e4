"""When sunset reminders are due: lead times in calendar days, time zones, DST, month ends."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mgmt.lifecycle.notice_dates import (
    DueReminders,
    after_announcement,
    due_reminders,
    parse_lead_days,
    reminder_due_at,
)
from mgmt.lifecycle.retries import retry_delay

pytestmark = pytest.mark.pure
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LEADS = (30, 7, 1)


def test_lead_times_parse_distinct_and_longest_first() -> None:
    assert parse_lead_days("1, 30,7 ,7") == (30, 7, 1)


@pytest.mark.parametrize("text", ["", "0", "-1", "7,x", "3651", "1.5"])
def test_bad_lead_times_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="lead time"):
        parse_lead_days(text)


def test_in_utc_a_lead_time_is_whole_days() -> None:
    sunset = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
    assert reminder_due_at(sunset, 7, UTC) == datetime(2026, 6, 8, 9, 0, tzinfo=UTC)


def test_thirty_days_before_march_first_crosses_february() -> None:
    assert reminder_due_at(datetime(2026, 3, 1, tzinfo=UTC), 30, UTC) == datetime(
        2026, 1, 30, tzinfo=UTC
    )
    # A leap year has one more day in February.
    assert reminder_due_at(datetime(2028, 3, 1, tzinfo=UTC), 30, UTC) == datetime(
        2028, 1, 31, tzinfo=UTC
    )


def test_one_day_before_the_first_of_a_month_is_the_last_of_the_previous() -> None:
    assert reminder_due_at(datetime(2026, 5, 1, 0, 0, tzinfo=UTC), 1, UTC) == datetime(
        2026, 4, 30, tzinfo=UTC
    )
    assert reminder_due_at(datetime(2027, 1, 1, 0, 0, tzinfo=UTC), 1, UTC) == datetime(
        2026, 12, 31, tzinfo=UTC
    )


def test_a_day_before_across_spring_forward_keeps_the_wall_time_and_is_23_hours() -> None:
    # Berlin moves from +01:00 to +02:00 on 29 March 2026 at 02:00.
    sunset = datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)
    due = reminder_due_at(sunset, 1, BERLIN)
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 28, 9, 0)
    assert sunset - due == timedelta(hours=23)


def test_a_week_before_across_fall_back_keeps_the_wall_time_and_is_169_hours() -> None:
    # New York moves from -04:00 to -05:00 on 1 November 2026.
    sunset = datetime(2026, 11, 5, 12, 0, tzinfo=NEW_YORK)
    due = reminder_due_at(sunset, 7, NEW_YORK)
    assert due.astimezone(NEW_YORK).replace(tzinfo=None) == datetime(2026, 10, 29, 12, 0)
    assert sunset - due == timedelta(hours=169)


def test_a_wall_time_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    # 02:30 on 29 March 2026 does not exist in Berlin: it becomes 03:30 CEST.
    sunset = datetime(2026, 3, 30, 2, 30, tzinfo=BERLIN)
    due = reminder_due_at(sunset, 1, BERLIN)
    assert due == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert due.astimezone(BERLIN).hour == 3


def test_a_repeated_wall_time_at_fall_back_is_the_first_of_the_two() -> None:
    # 02:30 on 25 October 2026 happens twice in Berlin: first at +02:00.
    sunset = datetime(2026, 10, 26, 2, 30, tzinfo=BERLIN)
    assert reminder_due_at(sunset, 1, BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_the_zone_decides_the_calendar_day() -> None:
    # 23:30 UTC on 1 March is already 2 March in Berlin: 1 day before is 1 March local.
    sunset = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    assert reminder_due_at(sunset, 1, BERLIN) == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    assert reminder_due_at(sunset, 1, UTC) == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    tokyo = ZoneInfo("Asia/Tokyo")
    assert reminder_due_at(sunset, 1, tokyo).astimezone(tokyo).day == 1


def test_nothing_is_due_before_the_longest_lead_time() -> None:
    sunset = datetime(2026, 12, 31, tzinfo=UTC)
    assert due_reminders(sunset, LEADS, sunset - timedelta(days=31), UTC) == DueReminders(None, ())


def test_the_reminder_is_due_from_its_instant_on() -> None:
    sunset = datetime(2026, 12, 31, tzinfo=UTC)
    at = sunset - timedelta(days=30)
    assert due_reminders(sunset, LEADS, at - timedelta(seconds=1), UTC).send is None
    assert due_reminders(sunset, LEADS, at, UTC) == DueReminders(30, ())


def test_only_the_nearest_due_reminder_is_sent_the_longer_ones_are_superseded() -> None:
    sunset = datetime(2026, 12, 31, tzinfo=UTC)
    assert due_reminders(sunset, LEADS, sunset - timedelta(days=5), UTC) == DueReminders(7, (30,))
    assert due_reminders(sunset, LEADS, sunset - timedelta(hours=2), UTC) == DueReminders(
        1, (7, 30)
    )


def test_no_reminder_once_the_sunset_has_passed() -> None:
    sunset = datetime(2026, 12, 31, tzinfo=UTC)
    assert due_reminders(sunset, LEADS, sunset, UTC) == DueReminders(None, ())


def test_retries_back_off_doubling_and_are_capped() -> None:
    assert [retry_delay(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert retry_delay(100) == 3600


def test_a_reminder_already_due_when_the_deprecation_was_announced_is_superseded() -> None:
    sunset = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
    announced = sunset - timedelta(days=5)
    due = due_reminders(sunset, LEADS, announced + timedelta(minutes=15), UTC)
    assert due == DueReminders(7, (30,))
    assert after_announcement(due, sunset, announced, UTC) == DueReminders(None, (7, 30))


def test_a_reminder_falling_due_after_the_announcement_is_still_sent() -> None:
    sunset = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
    announced = sunset - timedelta(days=10)
    due = due_reminders(sunset, LEADS, sunset - timedelta(days=6), UTC)
    assert after_announcement(due, sunset, announced, UTC) == DueReminders(7, (30,))


def test_the_announcement_counts_in_the_owners_calendar_days() -> None:
    # 7 days before 30 March 09:00 Berlin (after spring forward) is 23 March 09:00 CET.
    sunset = datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)
    due = due_reminders(sunset, LEADS, sunset - timedelta(days=6), BERLIN)
    just_before = datetime(2026, 3, 23, 7, 59, tzinfo=UTC)
    at_due = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    assert after_announcement(due, sunset, just_before, BERLIN).send == 7
    assert after_announcement(due, sunset, at_due, BERLIN).send is None
