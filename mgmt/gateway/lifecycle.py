"""Lifecycle transitions of API versions: validated by mgmt.lifecycle.transitions, written
with a conditional UPDATE (two admins or two workers never both apply one), audited in
LifecycleEvent, and published to the gateway when the transaction commits."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mgmt.gateway import notices, publishing
from mgmt.gateway.models import ApiVersion, LifecycleEvent
from mgmt.lifecycle.transitions import (
    FieldErrors,
    Lifecycle,
    SuccessorFacts,
    VersionFacts,
    check_deprecate,
    check_publish,
    check_retire,
)

log = logging.getLogger(__name__)

JOB_ACTOR = "deprecation job"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked: a signed-in user, or a job by name."""

    user: User | None = None
    label: str = ""

    @classmethod
    def of(cls, user: AbstractBaseUser | AnonymousUser | None) -> "Actor":
        if not isinstance(user, User):
            return cls(None, "anonymous")
        return cls(user, user.get_username())

    @property
    def name(self) -> str:
        return self.label or (self.user.get_username() if self.user else "unknown")


def _whole_second(moment: datetime) -> datetime:
    """Headers carry whole seconds and the gateway enforces them: the database agrees."""
    return moment.replace(microsecond=0)


def _facts(version: ApiVersion) -> VersionFacts:
    return VersionFacts(
        id=version.pk,
        api_id=version.api_id,
        label=str(version),
        state=Lifecycle(version.lifecycle),
        deprecated_at=version.deprecated_at,
        sunset_at=version.sunset_at,
    )


def _successor_facts(successor: ApiVersion | None) -> SuccessorFacts | None:
    if successor is None:
        return None
    return SuccessorFacts(
        successor.pk, successor.api_id, str(successor), Lifecycle(successor.lifecycle)
    )


def _raise(errors: FieldErrors) -> None:
    if errors:
        raise ValidationError(errors)


def _locked(version: ApiVersion) -> ApiVersion:
    """The row as it is now, locked until commit (PostgreSQL; SQLite serializes writers)."""
    return ApiVersion.objects.select_for_update().select_related("api").get(pk=version.pk)


def _apply(
    version: ApiVersion,
    *,
    to: Lifecycle,
    actor: Actor,
    now: datetime,
    reason: str,
    forced: bool = False,
    changes: dict[str, Any],
    details: dict[str, Any] | None = None,
) -> ApiVersion:
    """Writes `changes` only if the state is still the one the rules were checked against."""
    from_state = version.lifecycle
    updated = ApiVersion.objects.filter(pk=version.pk, lifecycle=from_state).update(
        lifecycle=to.value, **changes
    )
    if updated != 1:
        raise ValidationError(f"{version} changed meanwhile; reload it and try again")
    LifecycleEvent.objects.create(
        api_version=version,
        version_label=str(version),
        from_state=from_state,
        to_state=to.value,
        actor=actor.user,
        actor_label=actor.name,
        reason=reason,
        forced=forced,
        details=details or {},
        at=now,
    )
    # update() sends no post_save: ask for the publication that every other change gets.
    publishing.publish_on_commit()
    version.refresh_from_db()
    log.info("%s: %s -> %s by %s", version, from_state, to.value, actor.name)
    return version


@transaction.atomic
def publish_version(
    *, version: ApiVersion, actor: Actor, reason: str = "", now: datetime | None = None
) -> ApiVersion:
    """A draft goes live, or a deprecation is called off (its dates are cleared)."""
    now = now or timezone.now()
    version = _locked(version)
    _raise(check_publish(_facts(version)))
    changes: dict[str, Any] = {"deprecated_at": None, "sunset_at": None}
    if version.lifecycle == Lifecycle.DRAFT:
        changes = {"published_at": now}
    return _apply(
        version, to=Lifecycle.PUBLISHED, actor=actor, now=now, reason=reason, changes=changes
    )


@transaction.atomic
def deprecate_version(
    *,
    version: ApiVersion,
    actor: Actor,
    sunset_at: datetime | None,
    successor: ApiVersion | None = None,
    changelog_url: str | None = None,
    deprecated_at: datetime | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> ApiVersion:
    """Deprecate now (or at `deprecated_at`), or reschedule an existing deprecation.

    Deprecating again keeps the first deprecation date unless another is given. The
    callers are told once per deprecation date: now, or by the job once it takes effect.
    """
    now = now or timezone.now()
    version = _locked(version)
    deprecated_at = _whole_second(deprecated_at or version.deprecated_at or now)
    sunset_at = _whole_second(sunset_at) if sunset_at else None
    _raise(
        check_deprecate(
            _facts(version),
            now=now,
            deprecated_at=deprecated_at,
            sunset_at=sunset_at,
            successor=_successor_facts(successor),
        )
    )
    changes: dict[str, Any] = {
        "deprecated_at": deprecated_at,
        "sunset_at": sunset_at,
        "successor": successor,
    }
    if changelog_url is not None:
        changes["changelog_url"] = changelog_url
    details = {
        "deprecated_at": deprecated_at.isoformat(),
        "sunset_at": sunset_at.isoformat() if sunset_at else None,
        "successor": str(successor) if successor else None,
        "changelog_url": changelog_url if changelog_url is not None else version.changelog_url,
    }
    deprecated = _apply(
        version,
        to=Lifecycle.DEPRECATED,
        actor=actor,
        now=now,
        reason=reason,
        changes=changes,
        details=details,
    )
    notices.create_deprecation_notices(deprecated, now=now)
    return deprecated


def _predecessors(version: ApiVersion) -> tuple[str, ...]:
    """Versions, not retired, that send their callers to `version`."""
    return tuple(
        str(v)
        for v in version.predecessors.exclude(lifecycle=Lifecycle.RETIRED).select_related("api")
    )


@transaction.atomic
def retire_version(
    *,
    version: ApiVersion,
    actor: Actor,
    reason: str = "",
    force: bool = False,
    now: datetime | None = None,
) -> ApiVersion:
    """Retire: from now on its calls get 410. The owners of its callers are told."""
    now = now or timezone.now()
    version = _locked(version)
    _raise(
        check_retire(
            _facts(version),
            now=now,
            force=force,
            reason=reason,
            successor_of=_predecessors(version),
        )
    )
    forced = not (
        version.lifecycle == Lifecycle.DEPRECATED
        and version.sunset_at is not None
        and version.sunset_at <= now
    )
    # A retirement before the announced sunset moves the sunset to now: the Sunset date
    # callers were told stays true, and the 410 names the day it happened.
    sunset = version.sunset_at if not forced and version.sunset_at else _whole_second(now)
    if version.deprecated_at is not None and sunset < version.deprecated_at:
        # Retired within the second it was deprecated (or before a future deprecation date).
        sunset = version.deprecated_at
    retired = _apply(
        version,
        to=Lifecycle.RETIRED,
        actor=actor,
        now=now,
        reason=reason,
        forced=forced,
        changes={"retired_at": now, "sunset_at": sunset},
        details={"sunset_at": sunset.isoformat()},
    )
    notices.create_retirement_notices(retired, now=now)
    return retired


@dataclass(frozen=True, slots=True)
class RetirementOutcome:
    version_id: int
    label: str
    retired: bool
    errors: tuple[str, ...] = ()


def retire_due_versions(*, now: datetime) -> list[RetirementOutcome]:
    """Every deprecated version whose sunset has passed, each in its own transaction; a version
    the rules refuse (it is still another's successor) is reported and left as it is."""
    outcomes = []
    due = ApiVersion.objects.filter(
        lifecycle=Lifecycle.DEPRECATED, sunset_at__lte=now
    ).select_related("api")
    for version in due.order_by("sunset_at", "id"):
        try:
            retire_version(
                version=version,
                actor=Actor(None, JOB_ACTOR),
                reason="the sunset date was reached",
                now=now,
            )
        except ValidationError as exc:
            log.warning("%s is past its sunset but was not retired: %s", version, exc.messages)
            outcomes.append(RetirementOutcome(version.pk, str(version), False, tuple(exc.messages)))
        else:
            outcomes.append(RetirementOutcome(version.pk, str(version), True))
    return outcomes
