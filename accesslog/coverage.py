"""Which Envoy nodes the collector hears from, and for how long: pure, the clock passed in.

While a node has at least one open stream, every second is credited to the minute it falls
in; a minute credited less than 60 s shows the gap in the data (Envoy's ALS has no
acknowledgement: what it sent while no stream was up, it dropped). When a node's streams
resume after none, `opened` says how long there was none.
"""

from __future__ import annotations

import math


class Coverage:
    def __init__(self) -> None:
        self._open: dict[str, int] = {}  # node -> open streams
        self._credited_to: dict[str, float] = {}  # node -> time credited up to (open nodes)
        self._ended: dict[str, float] = {}  # node -> when its last stream ended
        self._seconds: dict[tuple[int, str], float] = {}  # (minute, node) -> seconds credited
        self._taken: dict[tuple[int, str], int] = {}  # (minute, node) -> whole seconds taken

    def remember(self, last_seen: dict[str, float]) -> None:
        """Nodes seen by an earlier run of the collector, and when (from Redis at start)."""
        for node, seen in last_seen.items():
            if node not in self._open:
                self._ended.setdefault(node, seen)

    def opened(self, node: str, now: float) -> float | None:
        """A stream of `node` opened; returns how long the node had none, if it was seen
        before and had none until now."""
        count = self._open.get(node, 0)
        self._open[node] = count + 1
        if count:
            return None
        self._credited_to[node] = now
        ended = self._ended.pop(node, None)
        return None if ended is None else max(0.0, now - ended)

    def closed(self, node: str, now: float) -> None:
        count = self._open.get(node, 0)
        if count > 1:
            self._open[node] = count - 1
            return
        if count == 1:
            self._credit(node, now)
            del self._open[node]
            del self._credited_to[node]
            self._ended[node] = now

    def connected(self) -> list[str]:
        return list(self._open)

    def take(self, now: float, *, final: bool = False) -> dict[tuple[int, str], int]:
        """Whole seconds credited since the last take, per (minute, node). A minute that is
        over is rounded and forgotten; the current one is taken whole seconds at a time
        (rounded too when `final`: the collector is stopping)."""
        for node in self._open:
            self._credit(node, now)
        current = math.floor(now / 60) + (1 if final else 0)
        out: dict[tuple[int, str], int] = {}
        for slot, seconds in list(self._seconds.items()):
            over = slot[0] < current
            whole = min(60, round(seconds) if over else math.floor(seconds))
            delta = whole - self._taken.get(slot, 0)
            if delta > 0:
                out[slot] = delta
                self._taken[slot] = whole
            if over:
                del self._seconds[slot]
                self._taken.pop(slot, None)
        return out

    def _credit(self, node: str, now: float) -> None:
        start = self._credited_to[node]
        if now <= start:
            return
        self._credited_to[node] = now
        minute = math.floor(start / 60)
        while start < now:
            end = min(now, (minute + 1) * 60.0)
            slot = (minute, node)
            self._seconds[slot] = self._seconds.get(slot, 0.0) + (end - start)
            start = end
            minute += 1
