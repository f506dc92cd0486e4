"""What a flush writes, before any Redis: the contract's fields, and chunks that stay small."""

from __future__ import annotations

import pytest

from accesslog import usage_keys as keys
from accesslog.histogram import bucket_of
from accesslog.rollup import Batch, Cell
from accesslog.sink import chunks, writes
from tests.accesslog.builders import MINUTE0, key_id

pytestmark = pytest.mark.pure


def _cell(requests: int, errors: int = 0, duration_us: int = 1000) -> Cell:
    cell = Cell()
    cell.requests = requests
    cell.errors = errors
    cell.bytes_in = 10 * requests
    cell.bytes_out = 20 * requests
    cell.duration_us = duration_us * requests
    cell.histogram = {bucket_of(duration_us): requests}
    return cell


def test_a_cell_is_written_as_the_contracts_fields_zero_counters_left_out() -> None:
    batch = Batch(cells={MINUTE0: {(1, 2, 3, 4, "5xx"): _cell(2, errors=2)}})
    h = keys.histogram_metric(bucket_of(1000))
    key = f"tollgate:usage:m:{MINUTE0}"
    assert [w for w, _ in writes(batch)] == [
        ("i", key, "1|2|3|4|5xx|n", 2),
        ("i", key, "1|2|3|4|5xx|e", 2),
        ("i", key, "1|2|3|4|5xx|bi", 20),
        ("i", key, "1|2|3|4|5xx|bo", 40),
        ("i", key, "1|2|3|4|5xx|ds", 2000),
        ("i", key, f"1|2|3|4|5xx|{h}", 2),
    ]


def test_every_field_written_parses_back_to_its_dims() -> None:
    dims = (0, 0, 0, 0, "other")
    batch = Batch(cells={MINUTE0: {dims: _cell(1)}})
    for (_, _, name, _), _ in writes(batch):
        parsed = keys.parse_field(name)
        assert parsed is not None
        assert parsed[0] == keys.Dims(*dims)


def test_coverage_key_uses_and_node_sightings_are_written() -> None:
    batch = Batch(
        cover={(MINUTE0, "gw"): 60},
        last_used={key_id(15): MINUTE0},
        nodes_seen={"gw": 1_700_000_000},
    )
    assert [w for w, _ in writes(batch)] == [
        ("i", f"tollgate:usage:cover:{MINUTE0}", "gw", 60),
        ("m", "tollgate:usage:keys", key_id(15), MINUTE0 * 60),
        ("m", "tollgate:usage:nodes", "gw", 1_700_000_000),
    ]


def test_a_big_batch_is_cut_into_numbered_chunks_that_count_their_cells() -> None:
    table = {(1, 2, 3, app, "2xx"): _cell(1) for app in range(1, 301)}
    batch = Batch(cells={MINUTE0: table})
    out = chunks(batch, first_seq=7, size=100)
    assert [c.seq for c in out] == list(range(7, 7 + len(out)))
    assert sum(c.cells for c in out) == 300
    for chunk in out:
        assert chunk.args[:2] == [chunk.seq, keys.KEY_TTL_SECONDS]
        assert len(chunk.args) - 2 <= 4 * 100
    assert sum((len(c.args) - 2) // 4 for c in out) == 300 * 5  # n, bi, bo, ds, one bucket


def test_an_empty_batch_has_no_chunks() -> None:
    assert chunks(Batch(), first_seq=0) == []
