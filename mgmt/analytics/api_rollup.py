"""API-level rollups: the application-level usage rows of a bucket summed per (api, version,
status class). The fold recomputes the ones it touched; `rebuild` fills a whole range (the
backfill of rows that predate these tables, and tests that write usage rows directly).

Always recomputed (replaced) from the application-level rows, never added to, so running
either twice changes nothing and an API-level row always equals the sum below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Final, NamedTuple

from django.db import connection
from django.db.models import QuerySet

from accesslog import histogram
from accesslog.usage_keys import Dims
from mgmt.analytics.fold_rows import COUNTERS, Counts
from mgmt.analytics.models import (
    API_DIMENSIONS,
    ApiUsageDay,
    ApiUsageHour,
    ApiUsageMinute,
    ApiUsageRow,
    UsageDay,
    UsageHour,
    UsageMinute,
    UsageRow,
)

# The API-level table that sums each application-level one.
API_LEVEL: Final[dict[type[UsageRow], type[ApiUsageRow]]] = {
    UsageMinute: ApiUsageMinute,
    UsageHour: ApiUsageHour,
    UsageDay: ApiUsageDay,
}
_WRITE_BATCH: Final = 500
_READ_CHUNK: Final = 2000

# The rows of {source} in a range summed per API-level key, the histograms too: split into
# "index:count" parts, summed per index, joined in index order (histogram.encode's text).
_REBUILD_SQL: Final = """
    INSERT INTO {target} (bucket, api_id, version_id, status_class, {counters}, histogram)
    SELECT u.bucket, u.api_id, u.version_id, u.status_class, {sums},
           coalesce((SELECT string_agg(h.i::text || ':' || h.c::text, ',' ORDER BY h.i)
                     FROM (SELECT split_part(part, ':', 1)::int AS i,
                                  sum(split_part(part, ':', 2)::bigint) AS c
                           FROM unnest(string_to_array(
                                  string_agg(nullif(u.histogram, ''), ','), ',')) part
                           GROUP BY 1) h), '')
    FROM {source} u
    WHERE {where}
    GROUP BY u.bucket, u.api_id, u.version_id, u.status_class
    ON CONFLICT (bucket, api_id, version_id, status_class) DO UPDATE SET {updates}
"""


class ApiDims(NamedTuple):
    api: int
    version: int
    status_class: str


def api_dims(dims: Dims) -> ApiDims:
    return ApiDims(dims.api, dims.version, dims.status_class)


def recompute(model: type[UsageRow], bucket: datetime, keys: Iterable[ApiDims]) -> None:
    """Replaces the API-level rows of `bucket` for `keys` with the sums of `model`'s rows.

    The query selects by each id separately (a superset) and Python keeps the exact keys.
    """
    wanted = set(keys)
    if not wanted:
        return
    values = (
        model._default_manager.filter(
            bucket=bucket,
            api_id__in=sorted({k.api for k in wanted}),
            version_id__in=sorted({k.version for k in wanted}),
            status_class__in=sorted({k.status_class for k in wanted}),
        )
        .values_list(*API_DIMENSIONS, *COUNTERS, "histogram")
        .iterator(chunk_size=_READ_CHUNK)
    )
    sums: dict[ApiDims, Counts] = {}
    for key, counts in _rows(values):
        if key in wanted:
            sums.setdefault(key, Counts()).add(counts)
    _write(API_LEVEL[model], {(bucket, key): counts for key, counts in sums.items()})


def rebuild(
    source: type[UsageRow],
    target: type[ApiUsageRow],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> None:
    """Replaces every row of `target` in [start, end) (all when None) with the sums of
    `source`'s rows: one statement on PostgreSQL, Python bucket by bucket elsewhere."""
    if connection.vendor == "postgresql":
        _rebuild_in_sql(source, target, start, end)
        return
    rows = source._default_manager.all()
    if start is not None:
        rows = rows.filter(bucket__gte=start)
    if end is not None:
        rows = rows.filter(bucket__lt=end)
    _rebuild_in_python(rows, target)


def _rebuild_in_python(rows: QuerySet[UsageRow], target: type[ApiUsageRow]) -> None:
    ordered = rows.order_by("bucket").values_list("bucket", *API_DIMENSIONS, *COUNTERS, "histogram")
    current: datetime | None = None
    sums: dict[tuple[datetime, ApiDims], Counts] = {}
    for values in ordered.iterator(chunk_size=_READ_CHUNK):
        bucket = values[0]
        assert isinstance(bucket, datetime)
        if bucket != current:
            _write(target, sums)
            current, sums = bucket, {}
        for key, counts in _rows([values[1:]]):
            sums.setdefault((bucket, key), Counts()).add(counts)
    _write(target, sums)


def stored_histogram(text: str) -> dict[int, int]:
    """A histogram the fold stored (histogram.encode's text). Parsed without
    histogram.decode's checks, which are for text from outside: a batch recomputes tens of
    thousands of stored rows, and the checks were most of its time."""
    if not text:
        return {}
    return {int(i): int(c) for i, _, c in (part.partition(":") for part in text.split(","))}


def _rows(values: Iterable[tuple[Any, ...]]) -> Iterator[tuple[ApiDims, Counts]]:
    for row in values:
        api, version, klass = row[:3]
        counts = Counts(**dict(zip(COUNTERS, row[3 : 3 + len(COUNTERS)], strict=True)))
        counts.histogram = stored_histogram(row[-1])
        yield ApiDims(api, version, klass), counts


def _write(model: type[ApiUsageRow], rows: dict[tuple[datetime, ApiDims], Counts]) -> None:
    model._default_manager.bulk_create(
        [
            model(
                bucket=bucket,
                api_id=key.api,
                version_id=key.version,
                status_class=key.status_class,
                histogram=histogram.encode(counts.histogram),
                **counts.counters(),
            )
            for (bucket, key), counts in sorted(rows.items())
        ],
        update_conflicts=True,
        unique_fields=["bucket", *API_DIMENSIONS],
        update_fields=[*COUNTERS, "histogram"],
        batch_size=_WRITE_BATCH,
    )


def _rebuild_in_sql(
    source: type[UsageRow],
    target: type[ApiUsageRow],
    start: datetime | None,
    end: datetime | None,
) -> None:
    where, params = ["true"], []
    if start is not None:
        where.append("u.bucket >= %s")
        params.append(start)
    if end is not None:
        where.append("u.bucket < %s")
        params.append(end)
    # Only model metadata and this module's constants go into the SQL text.
    sql = _REBUILD_SQL.format(
        target=connection.ops.quote_name(target._meta.db_table),
        source=connection.ops.quote_name(source._meta.db_table),
        counters=", ".join(COUNTERS),
        sums=", ".join(f"sum(u.{name})" for name in COUNTERS),
        where=" AND ".join(where),
        updates=", ".join(f"{name} = EXCLUDED.{name}" for name in (*COUNTERS, "histogram")),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
