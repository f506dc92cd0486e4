"""The forms behind the version lifecycle buttons and the bulk deprecation. They only collect
what the owner typed: the rules are mgmt.lifecycle's, and their errors land on these fields."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.widgets import AdminSplitDateTime, AdminURLFieldWidget
from django.core.exceptions import ValidationError
from django.db.models import Q

from mgmt.gateway.models import ApiVersion

_REASON_WIDGET = forms.Textarea(attrs={"rows": 3, "cols": 60})
_URL_MAX_LENGTH = ApiVersion._meta.get_field("changelog_url").max_length


def _changelog_field(help_text: str) -> forms.URLField:
    return forms.URLField(
        label="Changelog / migration guide",
        required=False,
        max_length=_URL_MAX_LENGTH,
        assume_scheme="https",
        widget=AdminURLFieldWidget,
        help_text=help_text,
    )


def _sunset_field() -> forms.SplitDateTimeField:
    return forms.SplitDateTimeField(
        label="Sunset",
        required=False,
        widget=AdminSplitDateTime,
        help_text=f"Server time ({settings.TIME_ZONE}). Sent as the Sunset header; from then "
        "on calls get 410 Gone. Empty: deprecated with no date yet (never retired on its own).",
    )


class ReasonForm(forms.Form):
    """Publish, or call off a deprecation: only why, for the history."""

    reason = forms.CharField(
        required=False, widget=_REASON_WIDGET, help_text="Kept in the version's history."
    )

    def __init__(self, *args: Any, version: ApiVersion, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = version


class DeprecateForm(ReasonForm):
    """Deprecate a published version, or reschedule a deprecated one (shown its current values,
    so a reschedule changes only what the owner edits)."""

    sunset_at = _sunset_field()
    successor = forms.ModelChoiceField(
        queryset=ApiVersion.objects.none(),
        required=False,
        help_text="The version callers should move to (published, of the same API).",
    )
    changelog_url = _changelog_field(
        "Linked from the deprecated version's responses; empty: no link."
    )
    field_order = ("sunset_at", "successor", "changelog_url", "reason")

    def __init__(self, *args: Any, version: ApiVersion, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "sunset_at": version.sunset_at,
                "successor": version.successor_id,
                "changelog_url": version.changelog_url,
            },
        )
        super().__init__(*args, version=version, **kwargs)
        successor = self.fields["successor"]
        assert isinstance(successor, forms.ModelChoiceField)
        # The current successor stays a choice even if it is no longer published: the owner
        # sees it, and the rules say why it must change, instead of it silently going blank.
        successor.queryset = (
            ApiVersion.objects.filter(
                Q(lifecycle=ApiVersion.Lifecycle.PUBLISHED) | Q(pk=version.successor_id),
                api_id=version.api_id,
            )
            .exclude(pk=version.pk)
            .select_related("api")
        )


class RetireForm(ReasonForm):
    force = forms.BooleanField(
        required=False,
        label="Retire it now anyway",
        help_text="Needed before the sunset date, or when the version was never deprecated: "
        "its callers were told a later date, or nothing. Say why below.",
    )
    field_order = ("force", "reason")


class BulkDeprecateForm(forms.Form):
    """No successor: the selected versions may belong to different APIs."""

    sunset_at = _sunset_field()
    changelog_url = _changelog_field("Empty: each version keeps the link it has.")
    reason = forms.CharField(
        required=False, widget=_REASON_WIDGET, help_text="Kept in each version's history."
    )


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's refusal, on the fields the owner typed into; the rest above the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def service_error_text(exc: ValidationError) -> str:
    """One line for a message: field errors are prefixed by their field's name."""
    if not hasattr(exc, "error_dict"):
        return "; ".join(exc.messages)
    parts = []
    for field, errors in exc.error_dict.items():
        prefix = "" if field == "__all__" else f"{field.replace('_', ' ')}: "
        parts += [prefix + message for error in errors for message in error.messages]
    return "; ".join(parts)
