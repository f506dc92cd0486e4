"""Which lifecycle transitions are allowed, and why not: field errors, never exceptions.

draft -> published -> deprecated -> retired, and back from deprecated to published. A
version is retired on its sunset date; earlier (or straight from published) only when
forced with a reason. Retired is final: a retired version's callers have been told.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final


class Lifecycle(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    DEPRECATED = "deprecated"
    RETIRED = "retired"


# Field name -> messages, as Django's ValidationError takes them.
FieldErrors = dict[str, list[str]]
# Errors that concern the transition as a whole rather than one field.
NON_FIELD: Final = "__all__"

ALLOWED: Final[frozenset[tuple[Lifecycle, Lifecycle]]] = frozenset(
    {
        (Lifecycle.DRAFT, Lifecycle.PUBLISHED),
        (Lifecycle.PUBLISHED, Lifecycle.DEPRECATED),
        # Deprecating again reschedules: a new sunset, successor or changelog.
        (Lifecycle.DEPRECATED, Lifecycle.DEPRECATED),
        (Lifecycle.DEPRECATED, Lifecycle.PUBLISHED),
        (Lifecycle.DEPRECATED, Lifecycle.RETIRED),
        (Lifecycle.PUBLISHED, Lifecycle.RETIRED),
    }
)


@dataclass(frozen=True, slots=True)
class VersionFacts:
    """What the rules need to know about one version."""

    id: int
    api_id: int
    label: str  # "Payments v1", for messages
    state: Lifecycle
    deprecated_at: datetime | None = None
    sunset_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SuccessorFacts:
    id: int
    api_id: int
    label: str
    state: Lifecycle


def _add(errors: FieldErrors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _transition_error(version: VersionFacts, target: Lifecycle) -> FieldErrors:
    if (version.state, target) in ALLOWED:
        return {}
    if version.state == Lifecycle.RETIRED:
        message = f"{version.label} is retired; a retired version cannot change again"
    else:
        message = f"{version.label} cannot go from {version.state} to {target}"
    return {NON_FIELD: [message]}


def check_publish(version: VersionFacts) -> FieldErrors:
    """Draft to published, or a deprecation called off (deprecated to published)."""
    return _transition_error(version, Lifecycle.PUBLISHED)


def check_deprecate(
    version: VersionFacts,
    *,
    now: datetime,
    deprecated_at: datetime,
    sunset_at: datetime | None,
    successor: SuccessorFacts | None,
) -> FieldErrors:
    """Published (or already deprecated, to reschedule) to deprecated."""
    errors = _transition_error(version, Lifecycle.DEPRECATED)
    if sunset_at is not None:
        if sunset_at <= now:
            _add(errors, "sunset_at", "the sunset must be in the future")
        if sunset_at < deprecated_at:
            _add(errors, "sunset_at", "the sunset cannot come before the deprecation")
    if successor is not None:
        if successor.id == version.id:
            _add(errors, "successor", "a version cannot succeed itself")
        elif successor.api_id != version.api_id:
            _add(errors, "successor", "the successor must be a version of the same API")
        elif successor.state != Lifecycle.PUBLISHED:
            _add(
                errors,
                "successor",
                f"the successor must be published; {successor.label} is {successor.state}",
            )
    return errors


def check_retire(
    version: VersionFacts,
    *,
    now: datetime,
    force: bool,
    reason: str,
    successor_of: tuple[str, ...] = (),
) -> FieldErrors:
    """Deprecated to retired on or after its sunset; before it, or from published, forced.

    `successor_of` names the versions, not retired, that point at this one as their
    successor: retiring it would send their callers to a 410.
    """
    errors = _transition_error(version, Lifecycle.RETIRED)
    if errors:
        return errors
    due = (
        version.state == Lifecycle.DEPRECATED
        and version.sunset_at is not None
        and version.sunset_at <= now
    )
    if not due:
        if not force:
            if version.state == Lifecycle.PUBLISHED:
                why = "it was never deprecated, so its callers were never warned"
            elif version.sunset_at is None:
                why = "it has no sunset date"
            else:
                why = "its sunset has not come yet"
            _add(errors, "force", f"{version.label} cannot be retired now: {why}; force it")
        if force and not reason.strip():
            _add(errors, "reason", "say why this version is retired early")
    if successor_of:
        _add(
            errors,
            NON_FIELD,
            f"{version.label} is the successor of {', '.join(successor_of)}; "
            "name another successor for them first",
        )
    return errors
