"""Latency histogram in microseconds: log-linear buckets, mergeable by adding counts.

Each power of two is split into SUB_BUCKETS equal buckets (values below 32 µs get one bucket
each), so a bucket is at most 1/16 of its low bound wide and the value read back for it, the
middle of the integers it holds, is within RELATIVE_ERROR of any value counted in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

SUB_BUCKETS: Final = 16
RELATIVE_ERROR: Final = 1 / 32
_SHIFT: Final = 4  # log2(SUB_BUCKETS)
# Below this every value has a bucket of its own (index == value).
_EXACT: Final = 2 * SUB_BUCKETS
# Largest index a decoded histogram may hold: the bucket of 2**64 µs (585,000 years).
MAX_INDEX: Final = (64 - _SHIFT + 1) * SUB_BUCKETS
# Digits of the largest count decode takes (a count never nears 2**63).
_MAX_COUNT_DIGITS: Final = 19


def bucket_of(micros: int) -> int:
    """The bucket index of a duration in µs; negative durations count as 0."""
    if micros < _EXACT:
        return micros if micros > 0 else 0
    exponent = micros.bit_length() - 1
    # (exponent - 3) * 16 is the first index of [2**exponent, 2**(exponent+1)).
    return (exponent - _SHIFT + 1) * SUB_BUCKETS + (micros >> (exponent - _SHIFT)) - SUB_BUCKETS


def bucket_bounds(index: int) -> tuple[int, int]:
    """[low, high) in µs of bucket `index`."""
    if index < _EXACT:
        return (index, index + 1)
    exponent = index // SUB_BUCKETS + _SHIFT - 1
    width = 1 << (exponent - _SHIFT)
    low = (SUB_BUCKETS + index % SUB_BUCKETS) * width
    return (low, low + width)


def _value(index: int) -> float:
    low, high = bucket_bounds(index)
    return (low + high - 1) / 2


def quantile(counts: Mapping[int, int], q: float) -> float | None:
    """The q-quantile in µs (nearest rank: the ceil(q*n)-th smallest value, at least the 1st);
    None when nothing was counted."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within [0, 1], got {q}")
    total = sum(c for c in counts.values() if c > 0)
    if total == 0:
        return None
    # The epsilon keeps 0.95 * 100 (= 95.00000000000001) at rank 95.
    rank = max(1, math.ceil(q * total - 1e-9))
    seen = 0
    for index in sorted(counts):
        count = counts[index]
        if count <= 0:
            continue
        seen += count
        if seen >= rank:
            return _value(index)
    raise AssertionError("unreachable: rank <= total")  # pragma: no cover


def merge(into: dict[int, int], other: Mapping[int, int]) -> None:
    """Add `other`'s counts to `into`."""
    for index, count in other.items():
        into[index] = into.get(index, 0) + count


def encode(counts: Mapping[int, int]) -> str:
    """`index:count,...` sorted by index, zero counts left out; "" when empty."""
    return ",".join(f"{i}:{counts[i]}" for i in sorted(counts) if counts[i] > 0)


def decode(text: str) -> dict[int, int]:
    """The counts `encode` wrote; raises ValueError on anything else."""
    out: dict[int, int] = {}
    if text == "":
        return out
    for part in text.split(","):
        index_text, sep, count_text = part.partition(":")
        if not sep:
            raise ValueError(f"histogram part {part[:40]!r} is not index:count")
        index = _decimal(index_text, len(str(MAX_INDEX)))
        count = _decimal(count_text, _MAX_COUNT_DIGITS)
        if index > MAX_INDEX:
            raise ValueError(f"histogram index {index} is beyond {MAX_INDEX}")
        if count == 0:
            raise ValueError("histogram counts are positive")
        if index in out:
            raise ValueError(f"histogram index {index} appears twice")
        out[index] = count
    return out


def _decimal(text: str, max_digits: int) -> int:
    # int() alone would take "+1", " 1", "1_0" and non-ASCII digits.
    if not (0 < len(text) <= max_digits and text.isascii() and text.isdigit()):
        raise ValueError(f"not a small decimal number: {text[:40]!r}")
    return int(text)
