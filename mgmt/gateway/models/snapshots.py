"""Compiled snapshots with their history, and what each Envoy or sidecar did with them."""

from django.db import models


class Snapshot(models.Model):
    """One compiled configuration. Refused ones are kept so the owner can read why."""

    class Status(models.TextChoices):
        PUBLISHED = "published"
        REFUSED = "refused"

    version = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    payload = models.BinaryField(editable=False, help_text="Serialized tollgate.v1.Snapshot.")
    errors = models.TextField(blank=True, help_text="Why the compiler refused it.")
    summary = models.CharField(max_length=300, blank=True, help_text="Resource counts per type.")
    type_versions = models.JSONField(default=dict, help_text="xDS type URL -> version served.")

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"

    def __str__(self) -> str:
        return f"{self.version[:12]} ({self.status})"

    def rejections(self) -> "models.QuerySet[SnapshotRejection]":
        """What Envoys or sidecars said when they refused one of this snapshot's types."""
        query = models.Q(pk__in=[])
        for type_url, version in self.type_versions.items():
            query |= models.Q(type_url=type_url, version=version)
        return SnapshotRejection.objects.filter(query)


class SnapshotRejection(models.Model):
    """Envoy (or a sidecar) NACKed a version: its own message, and who said it."""

    version = models.CharField(max_length=64, db_index=True)
    node_id = models.CharField(max_length=200)
    node_cluster = models.CharField(max_length=200, blank=True)
    type_url = models.CharField(max_length=200)
    error = models.TextField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.node_id} rejected {self.version[:12]}"


class XdsNodeStatus(models.Model):
    """The version each node last accepted, per type: which Envoys run what."""

    node_id = models.CharField(max_length=200)
    node_cluster = models.CharField(max_length=200, blank=True)
    type_url = models.CharField(max_length=200)
    acked_version = models.CharField(max_length=64, blank=True)
    nacked_version = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["node_id", "type_url"]
        constraints = [
            models.UniqueConstraint(
                fields=["node_id", "type_url"], name="one_status_per_node_type"
            ),
        ]
        verbose_name_plural = "xDS node statuses"

    def __str__(self) -> str:
        return f"{self.node_id} {self.type_url.rsplit('.', 1)[-1]}"


class NodeCondition(models.Model):
    """A degraded state a node reported (e.g. its counters unreachable), until it clears.

    Reported through xds_server under the identity the node's credential proves; repeated
    while it lasts, so `reported_at` going stale means the node went silent.
    """

    node_id = models.CharField(max_length=200)
    name = models.CharField(max_length=64)
    active = models.BooleanField()
    since = models.DateTimeField(help_text="When it began, by the node's clock.")
    detail = models.CharField(max_length=500, blank=True)
    reported_at = models.DateTimeField(help_text="The last report, by mgmt's clock.")
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-active", "-since"]
        constraints = [
            models.UniqueConstraint(fields=["node_id", "name"], name="one_condition_per_node")
        ]

    def __str__(self) -> str:
        return f"{self.node_id} {self.name} ({'active' if self.active else 'cleared'})"
