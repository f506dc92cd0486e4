"""The version page's lifecycle: a button per transition the current state allows, each a
small form handed to mgmt.gateway.lifecycle (which checks, records and publishes), a bulk
deprecation, and on the page who is told (and who cannot be: no address), which notices
went out, and the history."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format

from mgmt.gateway import lifecycle, notices, usage
from mgmt.gateway.admin_lifecycle_forms import (
    BulkDeprecateForm,
    DeprecateForm,
    ReasonForm,
    RetireForm,
    add_service_errors,
    service_error_text,
)
from mgmt.gateway.lifecycle import Actor
from mgmt.gateway.lifecycle_records_admin import no_address_warning, send_now
from mgmt.gateway.models import ApiVersion, Application, LifecycleEvent, LifecycleNotice
from mgmt.lifecycle.transitions import ALLOWED, Lifecycle

# Set only through the transitions below, never typed into the version's own form.
LIFECYCLE_FIELDS = (
    "lifecycle",
    "published_at",
    "deprecated_at",
    "sunset_at",
    "retired_at",
    "successor",
    "changelog_url",
)
# Rows of each table on the version page; the full lists of notices and events are a link away.
_SHOWN = 100

Apply = Callable[[ApiVersion, Actor, dict[str, Any]], ApiVersion]


def _when(moment: datetime | None) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT") if moment else "—"


@dataclass(frozen=True, slots=True)
class Transition:
    """One button of the version page, its form and the service it calls."""

    slug: str  # in its URL and URL name
    target: Lifecycle
    buttons: Mapping[Lifecycle, str]  # the states it starts from, and its label in each
    form: type[ReasonForm]
    apply: Apply
    explain: str  # shown above its form; {path} is the version's path
    done: Callable[[ApiVersion], str]

    def allowed_from(self, state: str) -> bool:
        return state in self.buttons and (Lifecycle(state), self.target) in ALLOWED

    def label(self, state: str) -> str:
        return self.buttons.get(Lifecycle(state), next(iter(self.buttons.values()))).rstrip("…")


def _publish(version: ApiVersion, actor: Actor, data: dict[str, Any]) -> ApiVersion:
    return lifecycle.publish_version(version=version, actor=actor, reason=data["reason"])


def _deprecate(version: ApiVersion, actor: Actor, data: dict[str, Any]) -> ApiVersion:
    return lifecycle.deprecate_version(
        version=version,
        actor=actor,
        sunset_at=data["sunset_at"],
        successor=data["successor"],
        changelog_url=data["changelog_url"],
        reason=data["reason"],
    )


def _retire(version: ApiVersion, actor: Actor, data: dict[str, Any]) -> ApiVersion:
    return lifecycle.retire_version(
        version=version, actor=actor, reason=data["reason"], force=data["force"]
    )


def _deprecated_message(version: ApiVersion) -> str:
    until = f"sunset {_when(version.sunset_at)}" if version.sunset_at else "no sunset date yet"
    return (
        f"{version} is deprecated ({until}): its responses say so, and the owners of "
        "the applications calling it are told now and reminded before the sunset."
    )


TRANSITIONS = (
    Transition(
        slug="publish",
        target=Lifecycle.PUBLISHED,
        buttons={Lifecycle.DRAFT: "Publish…"},
        form=ReasonForm,
        apply=_publish,
        explain="The gateway serves this version at {path} from the next snapshot, seconds "
        "after you confirm. A published version never goes back to draft.",
        done=lambda v: f"{v} is published: the gateway serves it at {v.full_path()}.",
    ),
    Transition(
        slug="deprecate",
        target=Lifecycle.DEPRECATED,
        buttons={Lifecycle.PUBLISHED: "Deprecate…", Lifecycle.DEPRECATED: "Reschedule…"},
        form=DeprecateForm,
        apply=_deprecate,
        explain="Responses from {path} carry a Deprecation header, and a Sunset header with "
        "the date below; the owners of the applications calling it are told now, and "
        "reminded before the sunset. On the sunset date the deprecation job retires it.",
        done=_deprecated_message,
    ),
    Transition(
        slug="call-off",
        target=Lifecycle.PUBLISHED,
        buttons={Lifecycle.DEPRECATED: "Call off deprecation…"},
        form=ReasonForm,
        apply=_publish,
        explain="The version at {path} is published again: no more Deprecation or Sunset "
        "headers, its sunset date is cleared and no more reminders go out. Notices already "
        "sent are not taken back.",
        done=lambda v: f"The deprecation of {v} is called off: it is published again.",
    ),
    Transition(
        slug="retire",
        target=Lifecycle.RETIRED,
        buttons={Lifecycle.PUBLISHED: "Retire…", Lifecycle.DEPRECATED: "Retire…"},
        form=RetireForm,
        apply=_retire,
        explain="From now on calls to {path} get 410 Gone, and the owners of the "
        "applications calling it are told. A retired version never changes again.",
        done=lambda v: f"{v} is retired: its calls get 410 Gone.",
    ),
)


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    url: str


class VersionLifecycleAdmin(admin.ModelAdmin[ApiVersion]):
    """The ApiVersion admin's lifecycle half; mgmt.gateway.admin adds the catalog half."""

    change_form_template = "admin/gateway/apiversion/change_form.html"
    list_display = ("api", "version", "lifecycle", "sunset_at", "successor")
    list_select_related = ("api", "successor__api")
    list_filter = ("lifecycle", "api")
    search_fields = ("api__name", "version")
    fieldsets = (
        (None, {"fields": ("api", "version", "path_prefix")}),
        (
            "Lifecycle",
            {
                "fields": LIFECYCLE_FIELDS,
                "description": "A new version starts as a draft. Its lifecycle changes with "
                "the buttons at the top of its page: each change is checked, kept in its "
                "history below and published to the gateway.",
            },
        ),
    )
    actions = ("deprecate_selected",)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiVersion | None = None) -> Any:
        # Moving a version to another API would orphan its successor links and notices.
        return ("api", *LIFECYCLE_FIELDS) if obj is not None else LIFECYCLE_FIELDS

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        own = [
            path(
                f"<path:object_id>/{t.slug}/",
                self.admin_site.admin_view(self._view_for(t)),
                name=f"{prefix}_{t.slug.replace('-', '_')}",
            )
            for t in TRANSITIONS
        ]
        return own + super().get_urls()

    def _view_for(self, transition: Transition) -> Callable[[HttpRequest, str], HttpResponse]:
        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            return self.transition_view(request, object_id, transition)

        return view

    def _change_url(self, version: ApiVersion) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[version.pk]
        )

    def transition_view(
        self, request: HttpRequest, object_id: str, transition: Transition
    ) -> HttpResponse:
        version = self.get_object(request, unquote(object_id))
        if version is None:
            raise Http404(f"no API version with id {object_id!r}")
        if not self.has_change_permission(request, version):
            raise PermissionDenied
        if request.method != "POST":
            if not transition.allowed_from(version.lifecycle):
                messages.error(request, f"{version} is {version.lifecycle}: nothing to do there.")
                return HttpResponseRedirect(self._change_url(version))
            return self._transition_page(
                request, version, transition, transition.form(version=version)
            )
        form = transition.form(request.POST, version=version)
        if form.is_valid():
            try:
                version = self._apply(request, version, transition, form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)  # re-rendered below, with all that was typed
            else:
                messages.success(request, transition.done(version))
                if transition.target == Lifecycle.RETIRED:
                    retired = version.notices.filter(kind=LifecycleNotice.Kind.RETIRED)
                    send_now(request, retired, "retirement")
                elif transition.target == Lifecycle.DEPRECATED:
                    send_now(request, notices.deprecation_notices(version), "deprecation")
                return HttpResponseRedirect(self._change_url(version))
        return self._transition_page(request, version, transition, form)

    def _apply(
        self,
        request: HttpRequest,
        version: ApiVersion,
        transition: Transition,
        data: dict[str, Any],
    ) -> ApiVersion:
        with transaction.atomic():
            # The state the owner saw may be stale: calling off a deprecation someone else
            # made while the Publish page was open is not what was asked for.
            current = (
                ApiVersion.objects.select_for_update().select_related("api").get(pk=version.pk)
            )
            if not transition.allowed_from(current.lifecycle):
                raise ValidationError(
                    f"{current} is {current.lifecycle} now (it changed while this page was "
                    "open): nothing was done"
                )
            return transition.apply(current, Actor.of(request.user), data)

    def _transition_page(
        self, request: HttpRequest, version: ApiVersion, transition: Transition, form: ReasonForm
    ) -> TemplateResponse:
        label = transition.label(version.lifecycle)
        audience = usage.audience(version) if transition.target != Lifecycle.PUBLISHED else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": version,
            "title": f"{label}: {version}",
            "submit_label": label,
            "explain": transition.explain.format(path=version.full_path()),
            "form": form,
            "media": self.media + form.media,
            "change_url": self._change_url(version),
            "audience": audience,
            "no_address": (
                no_address_warning(audience.unreachable, audience.who) if audience else ""
            ),
        }
        return TemplateResponse(request, "admin/gateway/apiversion/transition.html", context)

    def render_change_form(  # noqa: PLR0917 (Django's signature)
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ApiVersion | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            context["lifecycle_buttons"] = self._buttons(request, obj)
            context["lifecycle"] = _page_tables(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _buttons(self, request: HttpRequest, version: ApiVersion) -> list[Button]:
        if not self.has_change_permission(request, version):
            return []
        prefix = f"admin:{self.opts.app_label}_{self.opts.model_name}"
        return [
            Button(
                t.buttons[Lifecycle(version.lifecycle)],
                reverse(f"{prefix}_{t.slug.replace('-', '_')}", args=[version.pk]),
            )
            for t in TRANSITIONS
            if t.allowed_from(version.lifecycle)
        ]

    @admin.action(description="Deprecate selected versions", permissions=["change"])
    def deprecate_selected(
        self, request: HttpRequest, queryset: QuerySet[ApiVersion]
    ) -> TemplateResponse | None:
        versions = list(queryset.select_related("api", "successor__api"))
        form = BulkDeprecateForm(request.POST if "apply" in request.POST else None)
        if form.is_valid() and self._deprecate_each(request, versions, form.cleaned_data):
            return None  # back to the list, with the messages
        # Nothing was deprecated (or nothing was asked yet): the page again, as typed.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Deprecate selected versions",
            "versions": versions,
            "form": form,
            "media": self.media + form.media,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/gateway/apiversion/deprecate_selected.html", context
        )

    def _deprecate_each(
        self, request: HttpRequest, versions: list[ApiVersion], data: dict[str, Any]
    ) -> int:
        """Deprecates what the rules allow, reports the rest; returns how many succeeded."""
        actor = Actor.of(request.user)
        done: list[ApiVersion] = []
        with transaction.atomic():  # one commit, one snapshot, however many versions
            for version in versions:
                try:  # each service call is a savepoint: a refusal undoes only itself
                    deprecated = lifecycle.deprecate_version(
                        version=version,
                        actor=actor,
                        sunset_at=data["sunset_at"],
                        # A reschedule keeps what the form cannot say per version.
                        successor=version.successor,
                        changelog_url=data["changelog_url"] or None,
                        reason=data["reason"],
                    )
                except ValidationError as exc:
                    messages.error(
                        request, f"{version} was not deprecated: {service_error_text(exc)}"
                    )
                else:
                    done.append(deprecated)
        if done:
            sunset = _when(data["sunset_at"]) if data["sunset_at"] else "no sunset date yet"
            messages.success(request, f"Deprecated ({sunset}): {', '.join(map(str, done))}.")
            announcements = LifecycleNotice.objects.none()
            for version in done:
                announcements |= notices.deprecation_notices(version)
            send_now(request, announcements, "deprecation")
        return len(done)


@dataclass(frozen=True, slots=True)
class PageTables:
    """What the version page shows under its fields: who hears, what they heard, and when."""

    notified: list[Application]  # the first _SHOWN; each has notice_recipient()
    notified_total: int
    basis: str  # who is told, and on what grounds (recorded usage, or every subscriber)
    no_address: str  # the API owner's warning naming those who cannot be told; "" for none
    notices: list[LifecycleNotice]
    notices_total: int
    notices_url: str
    events: list[LifecycleEvent]
    events_total: int
    events_url: str


def _page_tables(version: ApiVersion) -> PageTables:
    notices_qs = version.notices.select_related("application").order_by("-created_at", "-id")
    events_qs = version.lifecycle_events.order_by("-at", "-id")
    only_this = f"?api_version__id__exact={version.pk}"
    audience = usage.audience(version)
    notified = audience.applications
    return PageTables(
        notified=notified[:_SHOWN],
        notified_total=len(notified),
        basis=audience.basis(),
        no_address=no_address_warning(audience.unreachable, audience.who),
        notices=list(notices_qs[:_SHOWN]),
        notices_total=notices_qs.count(),
        notices_url=reverse("admin:gateway_lifecyclenotice_changelist") + only_this,
        events=list(events_qs[:_SHOWN]),
        events_total=events_qs.count(),
        events_url=reverse("admin:gateway_lifecycleevent_changelist") + only_this,
    )
