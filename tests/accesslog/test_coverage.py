"""Coverage seconds per node and minute, and the gaps between a node's streams."""

from __future__ import annotations

import pytest

from accesslog.coverage import Coverage

pytestmark = pytest.mark.pure

M = 29_200_320  # a minute
T = M * 60.0  # its first second


def test_a_node_connected_all_minute_is_credited_sixty_seconds() -> None:
    coverage = Coverage()
    coverage.opened("gw", T - 5)
    taken: dict[tuple[int, str], int] = {}
    for step in range(1, 40):  # flushes every 2 s
        for slot, seconds in coverage.take(T + 2 * step - 0.3).items():
            taken[slot] = taken.get(slot, 0) + seconds
    assert taken[(M - 1, "gw")] == 5
    assert taken[(M, "gw")] == 60
    assert taken[(M + 1, "gw")] == 17  # 77.7 s: whole seconds only while the minute runs


def test_the_current_minute_is_taken_whole_seconds_at_a_time_and_never_twice() -> None:
    coverage = Coverage()
    coverage.opened("gw", T)
    assert coverage.take(T + 10.7) == {(M, "gw"): 10}
    assert coverage.take(T + 10.9) == {}
    assert coverage.take(T + 11.2) == {(M, "gw"): 1}


def test_several_streams_of_a_node_count_once() -> None:
    coverage = Coverage()
    coverage.opened("gw", T)
    coverage.opened("gw", T + 1)
    coverage.closed("gw", T + 30)
    assert coverage.connected() == ["gw"]
    assert coverage.take(T + 40) == {(M, "gw"): 40}


def test_a_node_gone_mid_minute_is_credited_the_part_it_was_there() -> None:
    coverage = Coverage()
    coverage.opened("gw", T + 10)
    coverage.closed("gw", T + 25.6)
    assert coverage.connected() == []
    assert coverage.take(T + 59) == {(M, "gw"): 15}
    assert coverage.take(T + 61) == {(M, "gw"): 1}  # the minute is over: rounded
    assert coverage.take(T + 200) == {}


def test_the_last_take_rounds_the_current_minute() -> None:
    coverage = Coverage()
    coverage.opened("gw", T)
    assert coverage.take(T + 20.6, final=True) == {(M, "gw"): 21}


def test_reopening_reports_how_long_the_node_had_no_stream() -> None:
    coverage = Coverage()
    assert coverage.opened("gw", T) is None  # never seen: no gap to tell
    coverage.closed("gw", T + 5)
    assert coverage.opened("gw", T + 12.5) == pytest.approx(7.5)
    assert coverage.opened("gw", T + 13) is None  # it already had one open


def test_a_gap_across_a_restart_is_measured_from_the_last_sighting() -> None:
    coverage = Coverage()
    coverage.remember({"gw": T - 100, "other": T - 5})
    assert coverage.opened("gw", T) == pytest.approx(100)
    assert coverage.opened("new", T) is None


def test_closing_a_node_that_never_opened_changes_nothing() -> None:
    coverage = Coverage()
    coverage.closed("gw", T)
    assert coverage.take(T + 10) == {}
    assert coverage.opened("gw", T + 10) is None
