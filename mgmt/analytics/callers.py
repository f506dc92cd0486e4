"""Who called an API version lately, read from the usage rollups: the notices of its
deprecation and retirement go to these applications rather than to every subscriber."""

from datetime import UTC, datetime

from mgmt.analytics.models import Coverage, UsageDay, UsageHour, UsageMinute


def usage_recorded_since(since: datetime) -> datetime | None:
    """Since when usage is known to be recorded, within the window from `since`; None when
    the collector held no stream from any Envoy in it (it never ran, or not lately): who
    called is then unknown.

    Coverage rows are pruned with the minute rows, long before the day rows: day rows older
    than the oldest coverage still show recording went on then.
    """
    covered = (
        Coverage.objects.filter(bucket__gte=since, seconds__gt=0)
        .order_by("bucket")
        .values_list("bucket", flat=True)
        .first()
    )
    if covered is None:
        return None
    counted = (
        UsageDay.objects.filter(bucket__gte=since)
        .order_by("bucket")
        .values_list("bucket", flat=True)
        .first()
    )
    return min(covered, counted) if counted is not None else covered


def start_of_day(moment: datetime) -> datetime:
    """The UTC day `moment` falls in, as its first instant."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def applications_calling(version_id: int, *, since: datetime) -> frozenset[int]:
    """Ids of the known applications with at least one request to the version since
    `since` (from the start of its UTC day, the grain of the day rows).

    Each tier is read, not just the day rows: the fold may not have rolled today's minutes
    up into days yet, and the minute and hour rows of older days may already be pruned. A
    union of application ids counts nothing twice.
    """
    start = start_of_day(since)
    ids: set[int] = set()
    for model in (UsageDay, UsageHour, UsageMinute):
        ids.update(
            model.objects.filter(version_id=version_id, bucket__gte=start, requests__gt=0)
            .exclude(application_id=0)
            .values_list("application_id", flat=True)
            .distinct()
        )
    return frozenset(ids)
