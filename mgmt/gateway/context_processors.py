"""Template context for admin pages: gateway nodes in a degraded state, for the banner."""

from typing import Any

from django.http import HttpRequest

from mgmt.gateway import node_conditions


def degraded_nodes(request: HttpRequest) -> dict[str, Any]:
    """Only admin pages, only staff: one small query, never on the portal or the API."""
    if not request.path.startswith("/admin/"):
        return {}
    user = getattr(request, "user", None)
    if user is None or not user.is_staff:
        return {}
    return {"degraded_nodes": node_conditions.banner()}
