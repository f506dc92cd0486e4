"""Who may do what in an organization: one table, read by the API and the portal alike."""

from enum import StrEnum

from mgmt.gateway.models import Role


class Action(StrEnum):
    READ = "read"  # see the organization's applications, keys (metadata), subscriptions
    MANAGE_APPLICATIONS = "manage_applications"  # applications, keys, subscriptions, requests
    MANAGE_MEMBERS = "manage_members"  # invite, change roles, remove


_ALLOWED: dict[str, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.DEVELOPER: frozenset({Action.READ, Action.MANAGE_APPLICATIONS}),
    Role.BILLING: frozenset({Action.READ}),
}


def may(role: str, action: Action) -> bool:
    """Whether `role` allows `action`; an unknown role allows nothing."""
    return action in _ALLOWED.get(role, frozenset())
