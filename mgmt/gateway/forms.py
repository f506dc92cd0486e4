"""Admin forms whose rules span several rows: one limit per window length per owner."""

from typing import Any

from django.forms import BaseInlineFormSet

from mgmt.compiler.rate_limits import window_seconds
from mgmt.gateway import validators


class RateLimitFormSet(BaseInlineFormSet[Any, Any, Any]):
    """Refuses two limits of one owner with the same window, however each is written.

    The database constraint only sees (unit, multiplier): 60 seconds and 1 minute pass it,
    and two new rows are never checked against each other by their models' clean().
    """

    def clean(self) -> None:
        super().clean()
        owner = getattr(self.model, "owner_label", "owner")
        seen: set[int] = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            unit, multiplier = data.get("unit"), data.get("unit_multiplier")
            if not isinstance(unit, str) or not isinstance(multiplier, int):
                continue
            seconds = window_seconds(unit, multiplier)
            if seconds in seen:
                form.add_error("unit", validators.duplicate_window_message(owner, seconds))
            seen.add(seconds)
