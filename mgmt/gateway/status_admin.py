"""Admin for what the gateway did with the catalog: published snapshots, and what each Envoy
accepted or rejected (read-only: the xDS server writes these)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from mgmt.gateway.models import NodeCondition, Snapshot, SnapshotRejection, XdsNodeStatus


class SnapshotAdmin(admin.ModelAdmin[Snapshot]):
    list_display = ("id", "short_version", "status", "created_at", "summary", "rejected")
    list_filter = ("status",)
    search_fields = ("version",)
    readonly_fields = ("version", "status", "created_at", "summary", "errors", "rejection_list")
    fields = readonly_fields

    @admin.display(description="version")
    def short_version(self, snapshot: Snapshot) -> str:
        return snapshot.version[:12] or "—"

    @admin.display(description="rejected by Envoy", boolean=True)
    def rejected(self, snapshot: Snapshot) -> bool:
        return snapshot.rejections().exists()

    @admin.display(description="rejections (Envoy's own messages)")
    def rejection_list(self, snapshot: Snapshot) -> SafeString:
        rows = snapshot.rejections()
        if not rows:
            return format_html("{}", "none")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><b>{}</b> ({}) at {}: <code>{}</code></li>",
                ((r.node_id, r.type_url.rsplit(".", 1)[-1], r.at, r.error) for r in rows),
            ),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SnapshotRejectionAdmin(admin.ModelAdmin[SnapshotRejection]):
    list_display = ("at", "node_id", "type_url", "version", "error")
    list_filter = ("type_url", "node_cluster")
    search_fields = ("node_id", "version", "error")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class XdsNodeStatusAdmin(admin.ModelAdmin[XdsNodeStatus]):
    list_display = (
        "node_id",
        "node_cluster",
        "type_url",
        "acked_version",
        "nacked_version",
        "updated_at",
    )
    list_filter = ("node_cluster", "type_url")
    search_fields = ("node_id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class NodeConditionAdmin(admin.ModelAdmin[NodeCondition]):
    """Degraded states nodes reported: what the banner shows, with their history."""

    list_display = ("node_id", "name", "active", "since", "cleared_at", "reported_at", "detail")
    list_filter = ("active", "name")
    search_fields = ("node_id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
