"""The deprecation job: retire what is past its sunset, announce the deprecations that took
effect, plan the reminders that are due, and hand back the notices to send. Idempotent: a
second run at the same time changes nothing, publishes nothing and queues only what is
still unsent."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from mgmt.gateway import lifecycle, notices, publishing


@dataclass(frozen=True, slots=True)
class JobReport:
    retired: tuple[str, ...]
    not_retired: tuple[str, ...]  # past their sunset but refused, with why
    recent_deprecations: int  # versions whose callers are told it is deprecated (once each)
    versions_with_reminders_due: int
    released_claims: int
    sendable: tuple[int, ...]  # notice ids to queue for sending

    def as_dict(self) -> dict[str, object]:
        return {
            "retired": list(self.retired),
            "not_retired": list(self.not_retired),
            "recent_deprecations": self.recent_deprecations,
            "versions_with_reminders_due": self.versions_with_reminders_due,
            "released_claims": self.released_claims,
            "sendable": len(self.sendable),
        }


def run(*, now: datetime) -> JobReport:
    outcomes = lifecycle.retire_due_versions(now=now)
    # Before the reminders: a reminder that would only repeat the announcement is not sent.
    announced = notices.plan_deprecation_notices(now=now)
    due = notices.plan_reminders(
        now=now,
        lead_days=settings.TOLLGATE_NOTICE_LEAD_DAYS,
        zone=ZoneInfo(settings.TOLLGATE_LIFECYCLE_TIME_ZONE),
    )
    released = notices.release_stale_claims(
        now=now, claim_timeout=timedelta(seconds=settings.TOLLGATE_NOTICE_CLAIM_TIMEOUT_SECONDS)
    )
    if settings.TOLLGATE_AUTO_PUBLISH:
        # A worker killed between a retirement's commit and its publication left the gateway
        # behind the database; this catches it up, and publishes nothing when it is not.
        publishing.publish_snapshot()
    sendable = notices.sendable_ids(
        now=now, quiet_period=timedelta(seconds=settings.TOLLGATE_NOTICE_RETRY_QUIET_SECONDS)
    )
    return JobReport(
        retired=tuple(o.label for o in outcomes if o.retired),
        not_retired=tuple(f"{o.label}: {' '.join(o.errors)}" for o in outcomes if not o.retired),
        recent_deprecations=announced,
        versions_with_reminders_due=due,
        released_claims=released,
        sendable=tuple(sendable),
    )
