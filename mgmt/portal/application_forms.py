"""Forms of the application pages: the application itself, its keys, subscribing from the
catalog, and asking for higher limits. Shape only; the rules are the services'."""

from typing import Any

from django import forms

from mgmt.gateway.models.access import RateLimit
from mgmt.gateway.services import MAX_ROTATION_OVERLAP

# One row per unit covers every sensible request (a per-second burst limit up to a daily
# one); the service takes up to 8 windows, the API offers them to scripts.
LIMIT_REQUEST_ROWS = 4


class ApplicationForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    contact_email = forms.EmailField(
        label="Contact address",
        required=False,
        max_length=254,
        help_text="Where notices about deprecated API versions go; empty: the organization's.",
    )


class DeleteApplicationForm(forms.Form):
    # Without JavaScript there is no confirm() dialog: the box is the second thought.
    confirm = forms.BooleanField(
        label="Yes, delete this application, its keys and its subscriptions", required=True
    )


class KeyForm(forms.Form):
    label = forms.CharField(
        label="Label", required=False, max_length=100, help_text="e.g. production, CI"
    )
    expires_at = forms.DateTimeField(
        label="Expires (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: the key works until you revoke it.",
    )


class RotateKeyForm(forms.Form):
    overlap_seconds = forms.IntegerField(
        label="Old key keeps working for (seconds)",
        min_value=0,
        max_value=int(MAX_ROTATION_OVERLAP.total_seconds()),
        initial=3600,
    )


class SubscribeForm(forms.Form):
    """Choices are what the caller may use: plans of this product, and applications of the
    organizations where their role manages applications ("<org slug>/<public id>")."""

    plan = forms.ChoiceField(label="Plan", widget=forms.RadioSelect)
    application = forms.ChoiceField(label="Application")

    def __init__(
        self,
        *args: Any,
        plans: list[tuple[str, str]],
        applications: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = plans  # type: ignore[attr-defined]
        self.fields["application"].choices = applications  # type: ignore[attr-defined]
        self.has_applications = bool(applications)

    def chosen_application(self) -> tuple[str, str]:
        org_slug, _, public_id = self.cleaned_data["application"].partition("/")
        return org_slug, public_id


_UNIT_CHOICES = [("", "—"), *RateLimit.Unit.choices]


class LimitRequestForm(forms.Form):
    """Window rows (requests per multiplier x unit), a quota, and the reason. A row without
    a number of requests is left out. Numbers are only parsed here: the service says what
    is out of bounds, and why (a limit of 0 is a suspension, not a limit)."""

    quota_requests = forms.IntegerField(label="Quota (calls per billing period)", required=False)
    reason = forms.CharField(
        label="What the higher limits are for",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for row in range(LIMIT_REQUEST_ROWS):
            self.fields[f"window_{row}_requests"] = forms.IntegerField(
                label=f"Window {row + 1}: requests", required=False
            )
            self.fields[f"window_{row}_unit_multiplier"] = forms.IntegerField(
                label=f"Window {row + 1}: per how many units",
                required=False,
                initial=1,
            )
            self.fields[f"window_{row}_unit"] = forms.ChoiceField(
                label=f"Window {row + 1}: unit", required=False, choices=_UNIT_CHOICES
            )

    def rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        """The window fields, row by row, for the template's table."""
        return [
            (
                self[f"window_{row}_requests"],
                self[f"window_{row}_unit_multiplier"],
                self[f"window_{row}_unit"],
            )
            for row in range(LIMIT_REQUEST_ROWS)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for row in range(LIMIT_REQUEST_ROWS):
            if cleaned.get(f"window_{row}_requests") is not None and not cleaned.get(
                f"window_{row}_unit"
            ):
                self.add_error(f"window_{row}_unit", "pick the unit of this window")
        return cleaned

    def windows(self) -> tuple[list[dict[str, Any]], list[int]]:
        """The filled rows as the service takes them, and the row each came from (the
        service names a bad window by its place in the list: `windows.<i>.<field>`)."""
        windows, rows = [], []
        for row in range(LIMIT_REQUEST_ROWS):
            requests = self.cleaned_data.get(f"window_{row}_requests")
            if requests is None:
                continue
            multiplier = self.cleaned_data.get(f"window_{row}_unit_multiplier")
            windows.append(
                {
                    "requests": requests,
                    "unit": self.cleaned_data[f"window_{row}_unit"],
                    # Empty means one unit; a 0 typed in goes on, for the service to refuse.
                    "unit_multiplier": 1 if multiplier is None else multiplier,
                }
            )
            rows.append(row)
        return windows, rows

    def field_aliases(self, rows: list[int]) -> dict[str, str]:
        """Service field names (`windows.<i>`, `windows.<i>.unit`) -> this form's fields."""
        aliases: dict[str, str] = {}
        for index, row in enumerate(rows):
            aliases[f"windows.{index}"] = f"window_{row}_requests"
            for part in ("requests", "unit", "unit_multiplier"):
                aliases[f"windows.{index}.{part}"] = f"window_{row}_{part}"
        return aliases
