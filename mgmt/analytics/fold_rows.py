"""The fold's pure core: a claimed Redis hash in, usage rows out; rows added and rolled up.

No Django, no Redis: the adapters (fold_store, fold_redis) hand these functions plain
mappings and write what they return. A field the collector could never have written is
skipped and counted, never guessed at, so no request is credited to the wrong row.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from accesslog import histogram, usage_keys
from accesslog.usage_keys import Dims

# Metric name in the minute hash -> counter field of the usage rows.
COUNTER_FIELDS: Final = {
    usage_keys.REQUESTS: "requests",
    usage_keys.ERRORS: "errors",
    usage_keys.THROTTLED: "throttled",
    usage_keys.BYTES_IN: "bytes_in",
    usage_keys.BYTES_OUT: "bytes_out",
    usage_keys.DURATION_SUM: "duration_us_sum",
    usage_keys.UPSTREAM_SUM: "upstream_us_sum",
}
COUNTERS: Final = tuple(COUNTER_FIELDS.values())
# A node holds one stream per Envoy worker thread: their seconds add up past the minute.
SECONDS_PER_MINUTE: Final = 60
NODE_MAX_LENGTH: Final = 200  # Coverage.node
KEY_ID_LENGTH: Final = 12  # extauthz.keys.KEY_ID_LENGTH: lower-case base32
_KEY_ID_ALPHABET: Final = frozenset(string.ascii_lowercase + "234567")
_MAX_VALUE_DIGITS: Final = 18  # a counter stays far below 2**63 even after adding


@dataclass(slots=True)
class Counts:
    """The counters of one usage row and its latency histogram (bucket index -> count)."""

    requests: int = 0
    errors: int = 0
    throttled: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    duration_us_sum: int = 0
    upstream_us_sum: int = 0
    histogram: dict[int, int] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        histogram.merge(self.histogram, other.histogram)

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTERS}


Rows = dict[Dims, Counts]


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a claimed hash held: its rows (or nodes, or keys) and the fields skipped."""

    rows: Rows
    skipped: int


@dataclass(frozen=True, slots=True)
class ParsedCover:
    seconds: dict[str, int]  # node -> seconds covered, at most 60
    skipped: int


@dataclass(frozen=True, slots=True)
class ParsedLastUsed:
    used: dict[str, int]  # key id -> unix seconds
    skipped: int


def parse_usage(raw: Mapping[bytes, bytes]) -> Parsed:
    """The rows of a claimed minute hash (`usage_keys.field` names -> HINCRBY values)."""
    rows: Rows = {}
    skipped = 0
    for name_bytes, value_bytes in raw.items():
        name = _text(name_bytes)
        parsed = usage_keys.parse_field(name) if name is not None else None
        value = _count(value_bytes)
        if parsed is None or value is None:
            skipped += 1
            continue
        dims, metric = parsed
        counts = rows.get(dims)
        if counts is None:
            counts = rows[dims] = Counts()
        if metric in COUNTER_FIELDS:
            counter = COUNTER_FIELDS[metric]
            setattr(counts, counter, getattr(counts, counter) + value)
            continue
        index = int(metric[len(usage_keys.HISTOGRAM_PREFIX) :])
        if index > histogram.MAX_INDEX:
            skipped += 1
            continue
        if value:
            counts.histogram[index] = counts.histogram.get(index, 0) + value
    # A dims whose every field was skipped above still got a row: drop the empty ones.
    return Parsed({d: c for d, c in rows.items() if c != Counts()}, skipped)


def parse_cover(raw: Mapping[bytes, bytes]) -> ParsedCover:
    """A claimed cover hash: node id -> seconds the collector held a stream from it."""
    seconds: dict[str, int] = {}
    skipped = 0
    for node_bytes, value_bytes in raw.items():
        node = _text(node_bytes)
        value = _count(value_bytes)
        if node is None or not 0 < len(node) <= NODE_MAX_LENGTH or value is None:
            skipped += 1
            continue
        seconds[node] = min(SECONDS_PER_MINUTE, value)
    return ParsedCover(seconds, skipped)


def parse_last_used(raw: Mapping[bytes, bytes], *, now: int) -> ParsedLastUsed:
    """A claimed `tollgate:usage:keys` hash: key id -> unix seconds of its last use.

    A time ahead of `now` (an Envoy with a fast clock) is taken as `now`: a key is never
    shown as used in the future.
    """
    used: dict[str, int] = {}
    skipped = 0
    for key_bytes, value_bytes in raw.items():
        key_id = _text(key_bytes)
        value = _count(value_bytes)
        if key_id is None or not _is_key_id(key_id) or not value:
            skipped += 1
            continue
        used[key_id] = min(value, now)
    return ParsedLastUsed(used, skipped)


def add_rows(into: Rows, other: Mapping[Dims, Counts]) -> None:
    """Adds `other`'s counts into `into` (rows missing from `into` are copied)."""
    for dims, counts in other.items():
        mine = into.get(dims)
        if mine is None:
            mine = into[dims] = Counts()
        mine.add(counts)


def rollup(rows: Iterable[tuple[Dims, Counts]]) -> Rows:
    """The rows of a coarser bucket: the finer rows' counts summed per dims."""
    out: Rows = {}
    for dims, counts in rows:
        add_rows(out, {dims: counts})
    return out


def covered_seconds(stored: int, added: int) -> int:
    """A node's coverage of a minute after another batch of it: capped at the minute."""
    return min(SECONDS_PER_MINUTE, stored + added)


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _count(raw: bytes) -> int | None:
    """A non-negative decimal as HINCRBY writes it ("0", "42"); None for anything else."""
    if not (0 < len(raw) <= _MAX_VALUE_DIGITS and raw.isascii() and raw.isdigit()):
        return None
    if len(raw) > 1 and raw[:1] == b"0":
        return None
    return int(raw)


def _is_key_id(text: str) -> bool:
    return len(text) == KEY_ID_LENGTH and set(text) <= _KEY_ID_ALPHABET
