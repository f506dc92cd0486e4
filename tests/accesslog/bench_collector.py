"""Bench (a script, not a test): µs per entry to read an access-log entry and roll it up.

    .venv/bin/python -m tests.accesslog.bench_collector [--entries 100000]

Entries are parsed from bytes first (as gRPC hands them over), then timed through
`entries.read` + `Rollup.add`, the per-request work of the collector.
"""

from __future__ import annotations

import argparse
import random
import time

from envoy.service.accesslog.v3 import als_pb2

from accesslog.entries import read
from accesslog.rollup import Rollup
from tests.accesslog.builders import MINUTE0, T0, entry, message


def synthetic(count: int, seed: int = 1) -> list[bytes]:
    """Messages of 100 entries: 50 routes, 200 applications, mostly 2xx, some 401/404/429/5xx."""
    rng = random.Random(seed)
    out = []
    for start in range(0, count, 100):
        batch = []
        for i in range(start, min(count, start + 100)):
            status = rng.choices([200, 201, 401, 404, 429, 503], [80, 5, 4, 4, 4, 3])[0]
            matched = status != 404
            route = rng.randrange(1, 51)
            batch.append(
                entry(
                    api=route // 10 + 1 if matched else None,
                    version=route // 5 + 1 if matched else None,
                    route=route if matched else None,
                    application=rng.randrange(1, 201) if status != 401 else None,
                    key=rng.randrange(1, 401) if status != 401 else None,
                    status=status,
                    denied=status in (401, 429),
                    start=T0 + i * 0.001,
                    total_us=int(rng.lognormvariate(8, 1)),
                    upstream_us=int(rng.lognormvariate(7, 1)),
                )
            )
        out.append(message(batch).SerializeToString())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    blobs = synthetic(args.entries)
    best = float("inf")
    for _ in range(args.rounds):
        # Freshly decoded each round, as gRPC hands them over: upb builds a field's Python
        # object on first access, and that is most of the cost measured.
        messages = [als_pb2.StreamAccessLogsMessage.FromString(b) for b in blobs]
        rollup = Rollup()
        started = time.perf_counter()
        for m in messages:
            for e in m.http_logs.log_entry:
                facts = read(e, MINUTE0)
                if facts is not None:
                    rollup.add(facts, MINUTE0)
        best = min(best, time.perf_counter() - started)
    read_only = float("inf")
    for _ in range(args.rounds):
        messages = [als_pb2.StreamAccessLogsMessage.FromString(b) for b in blobs]
        started = time.perf_counter()
        for m in messages:
            for e in m.http_logs.log_entry:
                read(e, MINUTE0)
        read_only = min(read_only, time.perf_counter() - started)
    started = time.perf_counter()
    for b in blobs:
        als_pb2.StreamAccessLogsMessage.FromString(b)
    decode = time.perf_counter() - started
    per = 1e6 / args.entries
    print(
        f"parse+rollup: {best * per:.2f} µs/entry (of which entries.read "
        f"{read_only * per:.2f}); best of {args.rounds}, {args.entries} entries, "
        f"{rollup.cell_count} cells; protobuf decode before it: {decode * per:.2f} µs/entry"
    )


if __name__ == "__main__":
    main()
