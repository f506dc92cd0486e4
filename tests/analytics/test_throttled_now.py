"""Who is throttled right now: the last minute of throttle events, summed per application."""

from typing import Any

import pytest

from mgmt.analytics.throttled_now import (
    LimitHit,
    ThrottleEvent,
    aggregate,
    parse_entry,
    read_recent,
)

pytestmark = pytest.mark.pure

NOW = 1_700_000_060_000


def event(app: int, at_ms: int, count: int = 1, limit: str = "plan:free", sub: int = 0) -> Any:
    return ThrottleEvent(
        at_ms=at_ms,
        application_id=app,
        subscription_id=sub or app * 10,
        limit=limit,
        kind="rate",
        count=count,
        last_ms=at_ms,
    )


def test_counts_are_summed_per_application_busiest_first() -> None:
    rows = aggregate(
        [event(1, NOW - 1000, 5), event(2, NOW - 500, 40), event(1, NOW - 2000, 7)], now_ms=NOW
    )
    assert [(r.application_id, r.count) for r in rows] == [(2, 40), (1, 12)]
    assert rows[1].last_at_ms == NOW - 1000


def test_events_older_than_the_window_are_left_out() -> None:
    rows = aggregate([event(1, NOW - 60_001, 100), event(1, NOW - 59_000, 3)], now_ms=NOW)
    assert [(r.application_id, r.count) for r in rows] == [(1, 3)]
    assert aggregate([event(1, NOW - 61_000, 3)], now_ms=NOW) == []


def test_each_limit_hit_is_named_with_its_own_count() -> None:
    (row,) = aggregate(
        [
            event(1, NOW - 10, 2, limit="plan:free:10 per second"),
            event(1, NOW - 20, 9, limit="plan:free:1000 per day", sub=11),
            event(1, NOW - 30, 3, limit="plan:free:10 per second"),
        ],
        now_ms=NOW,
    )
    assert row.limits == (
        LimitHit("plan:free:1000 per day", "rate", 9),
        LimitHit("plan:free:10 per second", "rate", 5),
    )
    assert row.subscription_ids == (10, 11)


def test_ties_are_ordered_by_the_latest_refusal() -> None:
    rows = aggregate([event(1, NOW - 5000, 4), event(2, NOW - 100, 4)], now_ms=NOW)
    assert [r.application_id for r in rows] == [2, 1]


def test_nothing_throttled_is_an_empty_list() -> None:
    assert aggregate([], now_ms=NOW) == []


def test_a_stream_entry_parses_from_bytes_as_redis_returns_it() -> None:
    parsed = parse_entry(
        b"1700000059000-3",
        {
            b"application_id": b"7",
            b"subscription_id": b"70",
            b"identity": b"",
            b"limit": b"plan:gold",
            b"kind": b"quota",
            b"count": b"12",
            b"first_ms": b"1700000058100",
            b"last_ms": b"1700000058900",
        },
    )
    assert parsed == ThrottleEvent(
        at_ms=1_700_000_059_000,
        application_id=7,
        subscription_id=70,
        limit="plan:gold",
        kind="quota",
        count=12,
        last_ms=1_700_000_058_900,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"application_id": "x", "count": "1"},
        {"application_id": "", "count": "1"},  # a YAML-mode identity: no application
        {"application_id": "0", "count": "3"},
        {"application_id": "4", "count": "-2"},
        {"application_id": "4", "count": "many"},
    ],
)
def test_malformed_entries_are_skipped_not_trusted(fields: dict[str, str]) -> None:
    assert parse_entry("1700000059000-0", fields) is None


class FakePipeline:
    def __init__(self, now_ms: int, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        self.now_ms = now_ms
        self.entries = entries
        self.calls: list[tuple[str, Any]] = []

    def time(self) -> None:
        self.calls.append(("time", None))

    def xrevrange(self, stream: str, count: int) -> None:
        self.calls.append(("xrevrange", (stream, count)))

    def execute(self) -> list[Any]:
        seconds, millis = divmod(self.now_ms, 1000)
        entries = self.entries[: self.calls[1][1][1]]
        return [(seconds, millis * 1000), entries]


class FakeRedis:
    def __init__(self, pipeline: FakePipeline) -> None:
        self._pipeline = pipeline

    def pipeline(self, transaction: bool) -> FakePipeline:
        assert transaction is False
        return self._pipeline


def entry(at_ms: int, app: int, count: int = 1) -> tuple[bytes, dict[bytes, bytes]]:
    fields = {b"application_id": str(app).encode(), b"count": str(count).encode()}
    return (f"{at_ms}-0".encode(), fields)


def test_the_reader_keeps_the_last_minute_on_redis_clock_in_one_round_trip() -> None:
    pipe = FakePipeline(
        NOW, [entry(NOW - 100, 1, 4), entry(NOW - 30_000, 2), entry(NOW - 61_000, 3, 50)]
    )
    recent = read_recent(FakeRedis(pipe), limit=100)
    assert [c for c, _ in pipe.calls] == ["time", "xrevrange"]
    assert pipe.calls[1][1] == ("tollgate:throttle-events", 100)
    assert recent.now_ms == NOW
    assert [e.application_id for e in recent.events] == [1, 2]
    assert not recent.truncated


def test_the_reader_says_when_the_entry_cap_cut_the_minute_short() -> None:
    pipe = FakePipeline(NOW, [entry(NOW - i, 1) for i in range(10)])
    recent = read_recent(FakeRedis(pipe), limit=5)
    assert len(recent.events) == 5
    assert recent.truncated
