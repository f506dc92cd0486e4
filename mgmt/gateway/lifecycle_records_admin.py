"""Admin for the lifecycle's records: the audit log (read-only: it is evidence) and the notices
sent to the applications that call a version, whose failed rows an owner can send again, and
whose applications without an address are named to the owner rather than skipped."""

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, Final, TypeVar

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from kombu.exceptions import OperationalError

from mgmt.gateway import notices, tasks, usage
from mgmt.gateway.models import Application, LifecycleEvent, LifecycleNotice

log = logging.getLogger(__name__)
M = TypeVar("M", bound=Model)

NEXT_JOB_SENDS = "the broker is unreachable: the next deprecation job run sends them"


def queue_notices(notice_ids: Iterable[int]) -> bool:
    """Ask a worker to send these notices now; False if the broker is unreachable.

    Call it after the notices' transaction commits. Nothing is lost when it fails: the
    deprecation job queues every pending notice itself, and a notice is sent once however
    often it is queued.
    """
    for notice_id in notice_ids:
        try:
            tasks.send_lifecycle_notice.delay(notice_id)
        except (OperationalError, OSError) as exc:
            # One failure is enough: every further attempt would wait on the same broker.
            log.warning("could not queue lifecycle notice %s: %s", notice_id, exc)
            return False
    return True


# Applications named in one warning; the rest are counted.
_NAMED: Final = 10


def no_address_warning(applications: Sequence[Application], who: str = "caller") -> str:
    """For the API owner: `2 callers have no address: A (Org A), B (Org B). …`, naming
    those who cannot be told; "" when every one has an address."""
    if not applications:
        return ""
    count = len(applications)
    named = ", ".join(f"{a.name} ({a.organization.name})" for a in applications[:_NAMED])
    more = f" and {count - _NAMED} more" if count > _NAMED else ""
    have = f"{who} has" if count == 1 else f"{who}s have"
    return (
        f"{count} {have} no address: {named}{more}. They are not told: give each "
        "application, or its organization, a contact address."
    )


def send_now(request: HttpRequest, announcement: QuerySet[LifecycleNotice], what: str) -> None:
    """After the commit that planned `announcement` (one deprecation's or retirement's
    notices): queue the pending ones, and name the applications that have no address."""
    pending = list(
        announcement.filter(state=LifecycleNotice.State.PENDING).values_list("pk", flat=True)
    )
    if pending and queue_notices(pending):
        messages.info(request, f"{len(pending)} {what} notice(s) are being sent.")
    elif pending:
        messages.warning(request, f"{len(pending)} {what} notice(s) are planned; {NEXT_JOB_SENDS}.")
    silent = [
        n.application
        for n in announcement.filter(state=LifecycleNotice.State.NO_RECIPIENT)
        .select_related("application__organization")
        .order_by("application_id")
    ]
    if silent:
        messages.warning(request, no_address_warning(silent))


class ReadOnlyAdmin(admin.ModelAdmin[M]):
    """Viewable, never written from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False


class LifecycleEventAdmin(ReadOnlyAdmin[LifecycleEvent]):
    list_display = (
        "at",
        "version_label",
        "from_state",
        "to_state",
        "actor_label",
        "forced",
        "reason",
    )
    list_filter = ("to_state", "from_state", "forced")
    search_fields = ("version_label", "actor_label", "reason")
    date_hierarchy = "at"
    fields = (
        "at",
        "api_version",
        "version_label",
        "from_state",
        "to_state",
        "actor",
        "actor_label",
        "forced",
        "reason",
        "details",
    )
    list_select_related = ()  # every column is the event's own


class LifecycleNoticeAdmin(ReadOnlyAdmin[LifecycleNotice]):
    list_display = (
        "created_at",
        "api_version",
        "application",
        "kind",
        "lead_days",
        "sunset_at",
        "recipient",
        "state",
        "attempts",
        "sent_at",
        "short_error",
    )
    list_select_related = ("api_version__api", "application")
    list_filter = ("state", "kind", "api_version__api")
    search_fields = ("recipient", "application__name", "api_version__api__name")
    actions = ("retry_failed",)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "GET":
            warning = no_address_warning(_unreachable_lately(), "notified application")
            if warning:
                messages.warning(request, warning)
        return super().changelist_view(request, extra_context)

    @admin.display(description="last error")
    def short_error(self, notice: LifecycleNotice) -> str:
        error = notice.last_error
        return error if len(error) <= 80 else error[:79] + "…"

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # Rows are never edited by hand; sending again is what the change permission grants.
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description="Retry failed notices", permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[LifecycleNotice]) -> None:
        failed = list(
            queryset.filter(state=LifecycleNotice.State.FAILED).values_list("pk", flat=True)
        )
        skipped = queryset.count() - len(failed)
        with transaction.atomic():
            requeued = notices.requeue_failed(failed)
        if skipped:
            messages.info(
                request, f"{skipped} selected notice(s) had not failed: left as they are."
            )
        if not requeued:
            messages.warning(request, "No failed notice was selected.")
            return
        if queue_notices(failed):
            messages.success(request, f"{requeued} notice(s) will be sent again now.")
        else:
            messages.warning(request, f"{requeued} notice(s) will be sent again; {NEXT_JOB_SENDS}.")


def _unreachable_lately() -> list[Application]:
    """Applications a recent notice found no address for, and that still have none."""
    since = timezone.now() - timedelta(days=usage.caller_days())
    return list(
        Application.objects.filter(
            lifecycle_notices__state=LifecycleNotice.State.NO_RECIPIENT,
            lifecycle_notices__created_at__gte=since,
            contact_email="",
            organization__contact_email="",
        )
        .select_related("organization")
        .distinct()
        .order_by("id")
    )
