"""The signing key schedule: which keys are published and which signs at time t."""

from datetime import UTC, datetime, timedelta

import pytest

from mgmt.oauth.rotation import (
    KeyTimes,
    droppable,
    plan_rotation,
    published,
    rotation_due,
    signer,
)

pytestmark = pytest.mark.pure

T0 = datetime(2030, 1, 1, tzinfo=UTC)
LIFE = timedelta(minutes=10)
LEEWAY = timedelta(seconds=60)
DELAY = timedelta(seconds=60)


def test_the_first_key_signs_at_once() -> None:
    plan = plan_rotation([], T0, publish_delay=DELAY)
    assert plan.signs_from == T0


def test_a_successor_is_published_before_it_signs_and_the_old_key_signs_until_then() -> None:
    old = KeyTimes("old", T0, T0)
    plan = plan_rotation([old], T0 + timedelta(days=30), publish_delay=DELAY)
    now = T0 + timedelta(days=30)
    assert plan.signs_from == now + DELAY == plan.retire_at
    keys = [KeyTimes("old", T0, T0, plan.retire_at), KeyTimes("new", now, plan.signs_from)]
    published_now = published(keys, now, token_lifetime=LIFE, leeway=LEEWAY)
    assert {k.kid for k in published_now} == {"old", "new"}
    assert signer(keys, now) == keys[0]
    assert signer(keys, now + DELAY - timedelta(microseconds=1)) == keys[0]
    assert signer(keys, now + DELAY) == keys[1]


def test_a_retired_key_stays_published_until_its_last_token_expired() -> None:
    retired = KeyTimes("old", T0, T0, T0 + timedelta(hours=1))
    last_expiry = retired.retired_at + LIFE + LEEWAY  # type: ignore[operator]
    before = last_expiry - timedelta(seconds=1)
    assert published([retired], before, token_lifetime=LIFE, leeway=LEEWAY) == [retired]
    assert droppable([retired], before, token_lifetime=LIFE, leeway=LEEWAY) == []
    assert published([retired], last_expiry, token_lifetime=LIFE, leeway=LEEWAY) == []
    assert droppable([retired], last_expiry, token_lifetime=LIFE, leeway=LEEWAY) == [retired]


def test_no_key_signs_before_its_time() -> None:
    assert signer([KeyTimes("k", T0, T0 + DELAY)], T0) is None
    assert signer([], T0) is None


def test_rotation_is_due_with_no_key_or_an_old_one_and_not_twice() -> None:
    period = timedelta(days=30)
    assert rotation_due([], T0, period=period)
    current = KeyTimes("k", T0, T0)
    assert not rotation_due([current], T0 + period - timedelta(seconds=1), period=period)
    assert rotation_due([current], T0 + period, period=period)
    rotating_at = T0 + period
    in_progress = [
        KeyTimes("k", T0, T0, rotating_at + DELAY),
        KeyTimes("n", rotating_at, rotating_at + DELAY),
    ]
    assert not rotation_due(in_progress, rotating_at + timedelta(seconds=1), period=period)
    only_retired = [KeyTimes("k", T0, T0, T0 + timedelta(hours=1))]
    assert rotation_due(only_retired, T0 + timedelta(hours=2), period=period)
