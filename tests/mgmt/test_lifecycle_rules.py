"""The lifecycle's transition rules, with no database."""

from datetime import UTC, datetime, timedelta

import pytest

from mgmt.lifecycle.transitions import (
    NON_FIELD,
    Lifecycle,
    SuccessorFacts,
    VersionFacts,
    check_deprecate,
    check_publish,
    check_retire,
)

pytestmark = pytest.mark.pure
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def version(state: Lifecycle, **kw: object) -> VersionFacts:
    return VersionFacts(id=1, api_id=10, label="Payments v1", state=state, **kw)  # type: ignore[arg-type]


def successor(
    state: Lifecycle = Lifecycle.PUBLISHED, api_id: int = 10, id: int = 2
) -> SuccessorFacts:
    return SuccessorFacts(id=id, api_id=api_id, label="Payments v2", state=state)


@pytest.mark.parametrize(
    ("state", "allowed"),
    [
        (Lifecycle.DRAFT, True),
        (Lifecycle.PUBLISHED, False),
        (Lifecycle.DEPRECATED, True),
        (Lifecycle.RETIRED, False),
    ],
)
def test_publish_is_allowed_from_draft_and_to_call_off_a_deprecation(
    state: Lifecycle, allowed: bool
) -> None:
    assert (check_publish(version(state)) == {}) is allowed


def test_a_retired_version_never_changes_again() -> None:
    errors = check_publish(version(Lifecycle.RETIRED))
    assert "retired version cannot change again" in errors[NON_FIELD][0]


def test_deprecating_with_a_future_sunset_and_a_published_successor_is_accepted() -> None:
    errors = check_deprecate(
        version(Lifecycle.PUBLISHED),
        now=NOW,
        deprecated_at=NOW,
        sunset_at=NOW + 30 * DAY,
        successor=successor(),
    )
    assert errors == {}


def test_deprecating_without_a_sunset_is_accepted() -> None:
    assert (
        check_deprecate(
            version(Lifecycle.PUBLISHED), now=NOW, deprecated_at=NOW, sunset_at=None, successor=None
        )
        == {}
    )


def test_a_draft_cannot_be_deprecated() -> None:
    errors = check_deprecate(
        version(Lifecycle.DRAFT), now=NOW, deprecated_at=NOW, sunset_at=None, successor=None
    )
    assert "cannot go from draft to deprecated" in errors[NON_FIELD][0]


@pytest.mark.parametrize("sunset", [NOW, NOW - DAY])
def test_a_sunset_in_the_past_is_refused_on_sunset_at(sunset: datetime) -> None:
    errors = check_deprecate(
        version(Lifecycle.PUBLISHED),
        now=NOW,
        deprecated_at=NOW - 2 * DAY,
        sunset_at=sunset,
        successor=None,
    )
    assert errors == {"sunset_at": ["the sunset must be in the future"]}


def test_a_sunset_before_the_deprecation_date_is_refused() -> None:
    errors = check_deprecate(
        version(Lifecycle.PUBLISHED),
        now=NOW,
        deprecated_at=NOW + 10 * DAY,
        sunset_at=NOW + 5 * DAY,
        successor=None,
    )
    assert errors == {"sunset_at": ["the sunset cannot come before the deprecation"]}


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        (successor(api_id=99), "the successor must be a version of the same API"),
        (successor(Lifecycle.DRAFT), "the successor must be published; Payments v2 is draft"),
        (
            successor(Lifecycle.DEPRECATED),
            "the successor must be published; Payments v2 is deprecated",
        ),
        (successor(id=1), "a version cannot succeed itself"),
    ],
)
def test_a_successor_must_be_another_published_version_of_the_same_api(
    candidate: SuccessorFacts, message: str
) -> None:
    errors = check_deprecate(
        version(Lifecycle.PUBLISHED),
        now=NOW,
        deprecated_at=NOW,
        sunset_at=None,
        successor=candidate,
    )
    assert errors == {"successor": [message]}


def test_retiring_on_the_sunset_needs_no_force() -> None:
    deprecated = version(Lifecycle.DEPRECATED, deprecated_at=NOW - 9 * DAY, sunset_at=NOW)
    assert check_retire(deprecated, now=NOW, force=False, reason="") == {}


def test_retiring_before_the_sunset_needs_force() -> None:
    deprecated = version(Lifecycle.DEPRECATED, sunset_at=NOW + DAY)
    errors = check_retire(deprecated, now=NOW, force=False, reason="")
    assert list(errors) == ["force"]
    assert "its sunset has not come yet" in errors["force"][0]


def test_a_forced_retirement_needs_a_reason() -> None:
    deprecated = version(Lifecycle.DEPRECATED, sunset_at=NOW + DAY)
    assert check_retire(deprecated, now=NOW, force=True, reason="  ") == {
        "reason": ["say why this version is retired early"]
    }
    assert check_retire(deprecated, now=NOW, force=True, reason="security flaw") == {}


def test_a_published_version_is_retired_only_by_force() -> None:
    errors = check_retire(version(Lifecycle.PUBLISHED), now=NOW, force=False, reason="")
    assert "never deprecated" in errors["force"][0]
    assert check_retire(version(Lifecycle.PUBLISHED), now=NOW, force=True, reason="breach") == {}


def test_a_deprecated_version_without_a_sunset_is_retired_only_by_force() -> None:
    errors = check_retire(version(Lifecycle.DEPRECATED), now=NOW, force=False, reason="")
    assert "no sunset date" in errors["force"][0]


@pytest.mark.parametrize("state", [Lifecycle.DRAFT, Lifecycle.RETIRED])
def test_drafts_and_retired_versions_cannot_be_retired(state: Lifecycle) -> None:
    errors = check_retire(version(state), now=NOW, force=True, reason="why")
    assert list(errors) == [NON_FIELD]


def test_a_version_that_is_another_ones_successor_cannot_be_retired() -> None:
    deprecated = version(Lifecycle.DEPRECATED, sunset_at=NOW - DAY)
    errors = check_retire(
        deprecated, now=NOW, force=False, reason="", successor_of=("Payments v0",)
    )
    assert errors == {
        NON_FIELD: [
            "Payments v1 is the successor of Payments v0; name another successor for them first"
        ]
    }


@pytest.mark.parametrize("minutes", [0, -5, 7, 45, 90])
def test_the_job_period_must_divide_the_hour(minutes: int) -> None:
    from mgmt.celery_app import beat_schedule

    with pytest.raises(ValueError, match="must divide 60"):
        beat_schedule(minutes)


def test_the_deprecation_job_runs_at_least_hourly() -> None:
    from celery.schedules import crontab

    from mgmt.celery_app import beat_schedule

    for minutes, expected in [(15, crontab(minute="*/15")), (60, crontab(minute="0"))]:
        entry = beat_schedule(minutes)["deprecation-job"]
        assert entry["task"] == "tollgate.lifecycle.deprecation_job"
        assert entry["schedule"] == expected
