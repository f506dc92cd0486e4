"""Writes the collector's batches to Redis exactly once: flush.lua, one pipeline per flush.

A batch is cut into chunks of at most `CHUNK_WRITES` writes (each a short script, so the
sidecars sharing this Redis never wait long) numbered in order within this run. A chunk
that may or may not have been applied (its reply was lost) is sent again as it was; the
script skips a number the run's marker says it already applied. So a failed flush keeps
everything, and a retried one counts nothing twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from accesslog import usage_keys as keys
from accesslog.rollup import Batch
from accesslog.usage_keys import Dims

SCRIPT: Final = resources.files("accesslog").joinpath("flush.lua").read_text()
# About a millisecond of Redis time per chunk.
CHUNK_WRITES: Final = 1000
# What a Redis that is away raises (redis-py wraps most socket errors, not all).
SINK_ERRORS: Final = (RedisError, OSError)

Write = tuple[str, str, str, int]  # op ("i" HINCRBY, "m" HSET unless larger), key, field, value

log = logging.getLogger(__name__)


def writes(batch: Batch) -> Iterator[tuple[Write, bool]]:
    """The writes of one batch, each with whether it starts a (minute, dims) cell; zero
    counters are not written (the fold reads an absent field as 0)."""
    for minute, table in batch.cells.items():
        key = keys.minute_key(minute)
        for raw, cell in table.items():
            dims = Dims._make(raw)
            first = True
            for metric, value in (
                (keys.REQUESTS, cell.requests),
                (keys.ERRORS, cell.errors),
                (keys.THROTTLED, cell.throttled),
                (keys.BYTES_IN, cell.bytes_in),
                (keys.BYTES_OUT, cell.bytes_out),
                (keys.DURATION_SUM, cell.duration_us),
                (keys.UPSTREAM_SUM, cell.upstream_us),
                *((keys.histogram_metric(i), n) for i, n in sorted(cell.histogram.items())),
            ):
                if value:
                    yield ("i", key, keys.field(dims, metric), value), first
                    first = False
    for (minute, node), seconds in batch.cover.items():
        yield ("i", keys.cover_key(minute), node, seconds), False
    for key_id, minute in batch.last_used.items():
        yield ("m", keys.LAST_USED_KEY, key_id, minute * 60), False
    for node, seen in batch.nodes_seen.items():
        yield ("m", keys.NODES_SEEN_KEY, node, seen), False


@dataclass(frozen=True)
class Chunk:
    seq: int
    args: list[str | int]  # flush.lua's ARGV
    cells: int  # (minute, dims) cells started in it: what a dropped chunk would lose


def chunks(batch: Batch, first_seq: int, size: int = CHUNK_WRITES) -> list[Chunk]:
    out: list[Chunk] = []
    args: list[str | int] = []
    cells = 0
    for write, starts_cell in writes(batch):
        if len(args) >= 4 * size:
            out.append(Chunk(first_seq + len(out), _argv(first_seq + len(out), args), cells))
            args, cells = [], 0
        args.extend(write)
        cells += starts_cell
    if args:
        out.append(Chunk(first_seq + len(out), _argv(first_seq + len(out), args), cells))
    return out


def _argv(seq: int, args: list[str | int]) -> list[str | int]:
    return [seq, keys.KEY_TTL_SECONDS, *args]


def client(url: str, timeout: float) -> aioredis.Redis:
    """A client that fails fast: the flush loop is the retry."""
    return aioredis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


class RedisSink:
    def __init__(self, redis: aioredis.Redis, *, chunk_writes: int = CHUNK_WRITES) -> None:
        self._redis = redis
        self._script = redis.register_script(SCRIPT)
        self._chunk_writes = chunk_writes
        # One marker per run of the collector: chunk numbers restart with every run.
        self._marker = keys.FLUSH_MARKER_PREFIX + uuid.uuid4().hex
        self._next_seq = 0
        self._unsent: list[Chunk] = []

    @property
    def unsent(self) -> bool:
        return bool(self._unsent)

    @property
    def unsent_cells(self) -> int:
        return sum(chunk.cells for chunk in self._unsent)

    def stage(self, batch: Batch) -> None:
        """Cut `batch` into chunks, sent by the next `send`; they are never changed again."""
        staged = chunks(batch, self._next_seq, self._chunk_writes)
        self._next_seq += len(staged)
        self._unsent.extend(staged)

    async def send(self) -> int:
        """Send every unsent chunk, in order, in one pipeline; returns how many Redis took.
        Raises one of SINK_ERRORS (and keeps them all) when Redis did not answer."""
        if not self._unsent:
            return 0
        pipe: Any = self._redis.pipeline(transaction=False)
        for chunk in self._unsent:
            await self._script(keys=[self._marker], args=chunk.args, client=pipe)
        try:
            replies = await pipe.execute(raise_on_error=False)
        finally:
            await pipe.reset()
        applied = 0
        for chunk, reply in zip(self._unsent, replies, strict=True):
            if isinstance(reply, ResponseError):
                # Redis took the chunk and refused part of it (a key of another type, OOM):
                # sending it again would not help, and could count its first part twice.
                log.error("Redis refused flush chunk %d: %s", chunk.seq, reply)
            elif isinstance(reply, BaseException):
                raise reply
            else:
                applied += 1
        self._unsent = []
        return applied

    def trim_unsent(self, max_cells: int) -> int:
        """Drop the oldest unsent chunks beyond `max_cells`; returns the cells they held."""
        dropped = 0
        while self._unsent and self.unsent_cells > max_cells:
            dropped += self._unsent.pop(0).cells
        return dropped

    def drop_unsent(self) -> int:
        """Give up the unsent chunks; returns the cells they held."""
        cells = self.unsent_cells
        self._unsent = []
        return cells

    async def last_seen(self) -> dict[str, float]:
        """When each node last held a stream (written by earlier runs)."""
        raw = await self._redis.hgetall(keys.NODES_SEEN_KEY)
        out: dict[str, float] = {}
        for node, seen in raw.items():
            name = node.decode() if isinstance(node, bytes) else str(node)
            try:
                out[name] = float(seen)
            except ValueError:
                continue
        return out
