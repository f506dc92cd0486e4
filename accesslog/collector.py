"""The collector's state and its flush loop: entries in, per-minute counts out to Redis.

The servicer hands in each message of an authenticated stream and tells when a node's
streams open and close; every `flush_interval` the counts, coverage seconds and key uses
go to Redis in one pipeline. While Redis is away they keep merging in memory (bounded).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from accesslog.coverage import Coverage
from accesslog.entries import read
from accesslog.metrics import CollectorMetrics
from accesslog.rollup import Rollup
from accesslog.sink import SINK_ERRORS, RedisSink

# A node's worker streams reconnecting at once is routine; a second without one is a gap.
MIN_REPORTED_GAP = 1.0

log = logging.getLogger(__name__)


class Collector:
    def __init__(
        self,
        sink: RedisSink,
        metrics: CollectorMetrics,
        *,
        max_pending_dims: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sink = sink
        self._metrics = metrics
        self._max_pending = max_pending_dims
        self._clock = clock
        self._rollup = Rollup()
        self._coverage = Coverage()
        self._failing_since: float | None = None

    async def start(self) -> None:
        """Learn when each node was last seen by an earlier run, to report the gap when its
        streams come back. Best effort: a Redis that is away must not stop us starting."""
        try:
            self._coverage.remember(await self._sink.last_seen())
        except SINK_ERRORS as exc:
            log.warning("Redis unreachable at start (%s); counting in memory meanwhile", exc)

    def ingest(self, message: Any) -> None:
        """Count the entries of one `StreamAccessLogsMessage` of an authenticated stream."""
        metrics = self._metrics
        if message.HasField("tcp_logs"):
            metrics.ignored_tcp.inc(len(message.tcp_logs.log_entry))
            return
        now_minute = int(self._clock() // 60)
        add = self._rollup.add
        attributed = unattributed = skipped = 0
        for entry in message.http_logs.log_entry:
            facts = read(entry, now_minute)
            if facts is None:
                skipped += 1
                continue
            add(facts, now_minute)
            if facts[1][0]:
                attributed += 1
            else:
                unattributed += 1
        # Once per message, not per entry: a Prometheus increment takes a lock.
        if attributed:
            metrics.attributed.inc(attributed)
        if unattributed:
            metrics.unattributed.inc(unattributed)
        if skipped:
            metrics.ignored_not_final.inc(skipped)

    def stream_opened(self, node: str) -> None:
        self._metrics.streams_active.inc()
        gap = self._coverage.opened(node, self._clock())
        if gap is not None:
            self._metrics.stream_gap.observe(gap)
        if gap is not None and gap >= MIN_REPORTED_GAP:
            log.warning(
                "node %s: no access-log stream for %.1f s; entries Envoy sent meanwhile were "
                "dropped by Envoy (its access_logs.grpc_access_log.logs_dropped counter)",
                node,
                gap,
            )

    def stream_closed(self, node: str) -> None:
        self._metrics.streams_active.dec()
        now = self._clock()
        self._coverage.closed(node, now)
        if node not in self._coverage.connected():
            self._rollup.saw_nodes([node], math.floor(now))

    async def flush(self, *, final: bool = False) -> bool:
        """Write what is pending; False when Redis did not take it (it is kept)."""
        now = self._clock()
        self._rollup.add_cover(self._coverage.take(now, final=final))
        self._rollup.saw_nodes(self._coverage.connected(), math.floor(now))
        sent = False
        try:
            if self._sink.unsent:
                # The chunks of a failed flush go alone first: while Redis is away, new
                # counts keep merging in the rollup instead of piling up as chunks.
                await self._sink.send()
                sent = True
            batch = self._rollup.drain(math.floor(now / 60))
            if batch:
                self._sink.stage(batch)
                await self._sink.send()
                self._metrics.flushes.inc()
                sent = True
        except SINK_ERRORS as exc:
            self._failed(exc, now)
            return False
        finally:
            self._metrics.pending_dims.set(self._rollup.cell_count + self._sink.unsent_cells)
        if sent and self._failing_since is not None:
            away = now - self._failing_since
            log.info("Redis is back after %.1f s: the counts kept are written", away)
            self._failing_since = None
        return True

    def abandon(self) -> int:
        """At shutdown with Redis away: drop what could not be written; returns the cells."""
        cells = self._rollup.trim(0) + self._sink.drop_unsent()
        self._metrics.redis_dropped_dims.inc(cells)
        self._metrics.pending_dims.set(0)
        return cells

    async def run(self, interval: float) -> None:
        """Flush every `interval` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception:
                log.exception("flushing the access-log counts failed; will try again")

    def _failed(self, exc: BaseException, now: float) -> None:
        self._metrics.flush_errors.inc()
        if self._failing_since is None:
            self._failing_since = now
            log.warning("Redis unreachable (%s); keeping the counts to write later", exc)
        # The oldest go first: what failed to go before (whole chunks), then the oldest
        # minutes counted since.
        bound = self._max_pending
        dropped = self._sink.trim_unsent(max(0, bound - self._rollup.cell_count))
        dropped += self._rollup.trim(max(0, bound - self._sink.unsent_cells))
        if dropped:
            self._metrics.redis_dropped_dims.inc(dropped)
            log.error(
                "Redis away for %.0f s: dropped %d (minute, dims) cells of the oldest minutes "
                "(the bound is %d)",
                now - self._failing_since,
                dropped,
                self._max_pending,
            )
