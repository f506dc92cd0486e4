"""Usage rollups per minute, hour and day (per application and route, and per API version
without them), plus what the fold needs to stay exactly-once.

No foreign keys: history outlives deleted APIs and applications (ids 0 = unknown), and names
are resolved when read.
"""

from django.db import models
from django.utils import timezone

# The dimensions one usage row is kept per, in the order of the unique constraint.
DIMENSIONS = ("api_id", "version_id", "route_id", "application_id", "status_class")


class UsageCounts(models.Model):
    """What a usage row counts in its bucket, whatever it is kept per."""

    bucket = models.DateTimeField(help_text="UTC start of the minute, hour or day.")
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    throttled = models.BigIntegerField(default=0)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    duration_us_sum = models.BigIntegerField(default=0)
    upstream_us_sum = models.BigIntegerField(default=0)
    histogram = models.TextField(default="", blank=True, help_text="accesslog.histogram.encode")

    class Meta:
        abstract = True


class UsageRow(UsageCounts):
    """Counters of one bucket for one (api, version, route, application, status class)."""

    api_id = models.BigIntegerField(help_text="0: unattributed (no Tollgate route matched).")
    version_id = models.BigIntegerField()
    route_id = models.BigIntegerField()
    application_id = models.BigIntegerField(help_text="0: no known application.")
    status_class = models.CharField(max_length=5)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", *DIMENSIONS], name="%(app_label)s_%(class)s_dims"
            )
        ]
        indexes = [
            models.Index(fields=["api_id", "bucket"], name="%(app_label)s_%(class)s_api"),
            models.Index(fields=["application_id", "bucket"], name="%(app_label)s_%(class)s_app"),
            models.Index(fields=["version_id", "bucket"], name="%(app_label)s_%(class)s_version"),
        ]


class UsageMinute(UsageRow):
    class Meta(UsageRow.Meta):
        verbose_name = "usage per minute"
        verbose_name_plural = "usage per minute"


class UsageHour(UsageRow):
    class Meta(UsageRow.Meta):
        verbose_name = "usage per hour"
        verbose_name_plural = "usage per hour"


class UsageDay(UsageRow):
    class Meta(UsageRow.Meta):
        verbose_name = "usage per day"
        verbose_name_plural = "usage per day"


# The dimensions an API-level row is kept per: the application-level ones without the
# application and the route, which all-traffic and per-version charts never split by.
API_DIMENSIONS = ("api_id", "version_id", "status_class")


class ApiUsageRow(UsageCounts):
    """The sum of the usage rows of one bucket for one (api, version, status class): all
    traffic and per-version charts read these, about 20 times fewer rows than UsageRow's.
    The fold replaces them from the application-level rows it has just written."""

    api_id = models.BigIntegerField(help_text="0: unattributed (no Tollgate route matched).")
    version_id = models.BigIntegerField()
    status_class = models.CharField(max_length=5)

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", *API_DIMENSIONS], name="%(app_label)s_%(class)s_dims"
            )
        ]
        indexes = [
            # "_ver": index names are limited to 30 characters.
            models.Index(fields=["version_id", "bucket"], name="%(app_label)s_%(class)s_ver"),
        ]


class ApiUsageMinute(ApiUsageRow):
    class Meta(ApiUsageRow.Meta):
        verbose_name = "API usage per minute"
        verbose_name_plural = "API usage per minute"


class ApiUsageHour(ApiUsageRow):
    class Meta(ApiUsageRow.Meta):
        verbose_name = "API usage per hour"
        verbose_name_plural = "API usage per hour"


class ApiUsageDay(ApiUsageRow):
    class Meta(ApiUsageRow.Meta):
        verbose_name = "API usage per day"
        verbose_name_plural = "API usage per day"


class Coverage(models.Model):
    """Seconds of one minute during which the collector held a stream from an Envoy node.

    Under 60 in a minute where the node was seen: partial; a node seen earlier and missing
    from a minute: a gap (the dashboards never draw a gap as zero traffic).
    """

    bucket = models.DateTimeField(help_text="UTC start of the minute.")
    node = models.CharField(max_length=200)
    seconds = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bucket", "node"], name="analytics_coverage_node")
        ]


class FoldBatch(models.Model):
    """One claimed Redis hash, applied once: its unique batch id is inserted in the same
    transaction as the counts it adds, so a second application of it rolls back."""

    batch_id = models.CharField(max_length=64, unique=True)
    minute = models.DateTimeField(db_index=True)
    folded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "fold batches"
