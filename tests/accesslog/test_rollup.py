"""The in-memory rollup: exact sums per (minute, dims), key uses once a minute, the bound."""

from __future__ import annotations

import pytest

from accesslog.entries import Facts
from accesslog.histogram import bucket_of
from accesslog.rollup import Rollup
from tests.accesslog.builders import MINUTE0, key_id

pytestmark = pytest.mark.pure

DIMS = (1, 2, 3, 4, "2xx")


def _facts(
    *,
    minute: int = MINUTE0,
    dims: tuple[int, int, int, int, str] = DIMS,
    duration_us: int = 1000,
    error: bool = False,
    throttled: bool = False,
    key_id: str = "",
) -> Facts:
    return Facts(minute, dims, 10, 20, duration_us, 300, error, throttled, key_id)


def test_requests_of_the_same_minute_and_dims_are_summed() -> None:
    rollup = Rollup()
    rollup.add(_facts(duration_us=1000), MINUTE0)
    rollup.add(_facts(duration_us=5000, error=True), MINUTE0)
    rollup.add(_facts(duration_us=1000, throttled=True), MINUTE0)
    batch = rollup.drain(MINUTE0)
    cell = batch.cells[MINUTE0][DIMS]
    assert (cell.requests, cell.errors, cell.throttled) == (3, 1, 1)
    assert (cell.bytes_in, cell.bytes_out) == (30, 60)
    assert (cell.duration_us, cell.upstream_us) == (7000, 900)
    assert cell.histogram == {bucket_of(1000): 2, bucket_of(5000): 1}


def test_other_minutes_and_dims_get_cells_of_their_own() -> None:
    rollup = Rollup()
    other = (1, 2, 3, 0, "4xx")
    for minute in (MINUTE0, MINUTE0 + 1, MINUTE0):
        for dims in (DIMS, other):
            rollup.add(_facts(minute=minute, dims=dims), MINUTE0 + 1)
    assert rollup.cell_count == 4
    batch = rollup.drain(MINUTE0 + 1)
    assert batch.cells[MINUTE0][DIMS].requests == 2
    assert batch.cells[MINUTE0][other].requests == 2
    assert batch.cells[MINUTE0 + 1][DIMS].requests == 1
    assert batch.cell_count == 4


def test_drain_hands_everything_over_and_starts_empty() -> None:
    rollup = Rollup()
    rollup.add(_facts(), MINUTE0)
    assert rollup.drain(MINUTE0)
    assert rollup.cell_count == 0
    assert not rollup.drain(MINUTE0)
    rollup.add(_facts(), MINUTE0)  # the minute's table is a new one after a drain
    assert rollup.drain(MINUTE0).cells[MINUTE0][DIMS].requests == 1


def test_a_keys_use_is_queued_once_per_minute_it_is_seen_in() -> None:
    rollup = Rollup()
    for _ in range(5):
        rollup.add(_facts(key_id=key_id(9)), MINUTE0)
    rollup.add(_facts(key_id=key_id(10)), MINUTE0)
    assert rollup.drain(MINUTE0).last_used == {key_id(9): MINUTE0, key_id(10): MINUTE0}
    rollup.add(_facts(key_id=key_id(9)), MINUTE0)  # same minute, already written
    assert rollup.drain(MINUTE0).last_used == {}
    rollup.add(_facts(key_id=key_id(9), minute=MINUTE0 - 5), MINUTE0 + 1)  # dated when it arrived
    assert rollup.drain(MINUTE0 + 1).last_used == {key_id(9): MINUTE0 + 1}


def test_requests_without_a_key_queue_no_key_use() -> None:
    rollup = Rollup()
    rollup.add(_facts(key_id=""), MINUTE0)
    assert rollup.drain(MINUTE0).last_used == {}


def test_trim_drops_the_oldest_minutes_first() -> None:
    rollup = Rollup()
    for minute in (MINUTE0 + 2, MINUTE0, MINUTE0 + 1):
        for app in range(3):
            rollup.add(_facts(minute=minute, dims=(1, 2, 3, app, "2xx")), MINUTE0)
    assert rollup.trim(4) == 5
    assert rollup.cell_count == 4
    batch = rollup.drain(MINUTE0)
    assert MINUTE0 not in batch.cells
    assert len(batch.cells[MINUTE0 + 1]) == 1
    assert len(batch.cells[MINUTE0 + 2]) == 3
    assert batch.cell_count == 4


def test_trim_within_the_bound_drops_nothing_and_counting_goes_on() -> None:
    rollup = Rollup()
    rollup.add(_facts(), MINUTE0)
    assert rollup.trim(1) == 0
    assert rollup.trim(0) == 1
    rollup.add(_facts(), MINUTE0)
    assert rollup.drain(MINUTE0).cells[MINUTE0][DIMS].requests == 1


def test_coverage_and_node_sightings_are_merged() -> None:
    rollup = Rollup()
    rollup.add_cover({(MINUTE0, "gw"): 20})
    rollup.add_cover({(MINUTE0, "gw"): 15, (MINUTE0, "gw/2"): 3})
    rollup.saw_nodes(["gw"], 100)
    rollup.saw_nodes(["gw"], 102)
    batch = rollup.drain(MINUTE0)
    assert batch.cover == {(MINUTE0, "gw"): 35, (MINUTE0, "gw/2"): 3}
    assert batch.nodes_seen == {"gw": 102}
