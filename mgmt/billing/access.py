"""Who sees billing: an organization's owners and billing members (developers, who build
with the APIs, do not); in admin, superusers see every organization's."""

from typing import Any, Final

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from mgmt.gateway.models import Organization, Role

BILLING_ROLES: Final = frozenset({Role.OWNER.value, Role.BILLING.value})


def sees_billing(role: str) -> bool:
    return role in BILLING_ROLES


def billing_organizations(request: HttpRequest) -> QuerySet[Organization] | None:
    """The organizations whose billing the signed-in user sees; None: every one."""
    user = request.user
    if not isinstance(user, User):
        return Organization.objects.none()
    if user.is_superuser:
        return None
    return Organization.objects.filter(
        memberships__user=user, memberships__role__in=BILLING_ROLES
    ).distinct()


def scoped(request: HttpRequest, rows: QuerySet[Any], organization_path: str) -> QuerySet[Any]:
    """`rows` narrowed to those whose organization (at `organization_path`) the user sees."""
    organizations = billing_organizations(request)
    if organizations is None:
        return rows
    return rows.filter(**{f"{organization_path}__in": organizations.values("pk")})
