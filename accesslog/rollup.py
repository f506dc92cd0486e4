"""What the collector has counted and not yet written: pure, in memory, drained per flush.

Counters and a latency histogram per (minute, dims); the minute each API key was last seen
(once per key per minute); coverage seconds and node sightings handed in by the collector.
A flush `drain`s it all into a `Batch` once Redis is reachable; while it is not, counts keep
merging here (a cell per (minute, dims), whatever the traffic), trimmed to a bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from accesslog.entries import DimsKey, Facts
from accesslog.histogram import bucket_of

# A key seen again in the minute it was last written is not written again.
_NO_MINUTE: Final = -1


class Cell:
    """One (minute, dims)'s counters; names follow `usage_keys`' metrics."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "duration_us",
        "errors",
        "histogram",
        "requests",
        "throttled",
        "upstream_us",
    )

    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0
        self.throttled = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.duration_us = 0
        self.upstream_us = 0
        self.histogram: dict[int, int] = {}


@dataclass
class Batch:
    """Everything one flush writes."""

    cells: dict[int, dict[DimsKey, Cell]] = field(default_factory=dict)  # minute -> dims -> cell
    last_used: dict[str, int] = field(default_factory=dict)  # key id -> minute
    cover: dict[tuple[int, str], int] = field(default_factory=dict)  # (minute, node) -> seconds
    nodes_seen: dict[str, int] = field(default_factory=dict)  # node -> unix seconds

    @property
    def cell_count(self) -> int:
        return sum(len(table) for table in self.cells.values())

    def __bool__(self) -> bool:
        return bool(self.cells or self.last_used or self.cover or self.nodes_seen)


class Rollup:
    def __init__(self) -> None:
        self._pending = Batch()
        self.cell_count = 0
        # The table of the minute last added to: consecutive entries share a minute.
        self._minute = _NO_MINUTE
        self._table: dict[DimsKey, Cell] = {}
        # key id -> the minute it was last queued; only keys seen this minute are kept.
        self._key_minutes: dict[str, int] = {}

    def add(self, facts: Facts, seen_minute: int) -> None:
        """Count one request. `seen_minute` (when it reached us) dates the key's last use, so
        a key's last-used time never goes backwards and is written once a minute at most."""
        minute, dims, bytes_in, bytes_out, duration_us, upstream_us, error, throttled, key_id = (
            facts
        )
        if minute != self._minute:
            self._table = self._pending.cells.setdefault(minute, {})
            self._minute = minute
        cell = self._table.get(dims)
        if cell is None:
            cell = self._table[dims] = Cell()
            self.cell_count += 1
        cell.requests += 1
        if error:
            cell.errors += 1
        if throttled:
            cell.throttled += 1
        cell.bytes_in += bytes_in
        cell.bytes_out += bytes_out
        cell.duration_us += duration_us
        cell.upstream_us += upstream_us
        histogram = cell.histogram
        bucket = bucket_of(duration_us)
        histogram[bucket] = histogram.get(bucket, 0) + 1
        if key_id and self._key_minutes.get(key_id, _NO_MINUTE) != seen_minute:
            self._key_minutes[key_id] = seen_minute
            self._pending.last_used[key_id] = seen_minute

    def add_cover(self, seconds: dict[tuple[int, str], int]) -> None:
        cover = self._pending.cover
        for slot, value in seconds.items():
            cover[slot] = cover.get(slot, 0) + value

    def saw_nodes(self, nodes: list[str], now: int) -> None:
        for node in nodes:
            self._pending.nodes_seen[node] = now

    def drain(self, now_minute: int) -> Batch:
        """Everything pending, handed over; the rollup starts empty."""
        batch = self._pending
        self._pending = Batch()
        self.cell_count = 0
        self._minute = _NO_MINUTE
        self._table = {}
        self._key_minutes = {k: m for k, m in self._key_minutes.items() if m >= now_minute}
        return batch

    def trim(self, max_cells: int) -> int:
        """Drop the oldest minutes' cells beyond `max_cells` (Redis has been away too long);
        returns how many were dropped."""
        dropped = 0
        cells = self._pending.cells
        for minute in sorted(cells):
            if self.cell_count <= max_cells:
                break
            table = cells[minute]
            while table and self.cell_count > max_cells:
                table.popitem()
                self.cell_count -= 1
                dropped += 1
            if not table:
                del cells[minute]
        if dropped:
            self._minute = _NO_MINUTE
            self._table = {}
        return dropped
