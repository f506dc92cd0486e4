"""How the portal writes times and rate-limit windows, the same on every page."""

from datetime import datetime
from typing import Any

from django import template
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

register = template.Library()


@register.filter
def when(moment: datetime | None) -> SafeString | str:
    """A <time> element in the site's zone (UTC), or a dash for "never"."""
    if moment is None:
        return "—"
    local = localtime(moment)
    return format_html(
        '<time datetime="{}">{} UTC</time>', local.isoformat(), date_format(local, "Y-m-d H:i")
    )


def _field(window: Any, name: str) -> Any:
    return window[name] if isinstance(window, dict) else getattr(window, name)


@register.filter
def per_window(window: Any) -> str:
    """'100 calls per second', '5,000 calls per 10 minutes': a plan limit, an override or a
    requested window (a dict), all read alike."""
    requests = int(_field(window, "requests"))
    unit = str(_field(window, "unit"))
    multiplier = int(_field(window, "unit_multiplier"))
    span = unit if multiplier == 1 else f"{multiplier} {unit}s"
    return f"{requests:,} calls per {span}"


@register.filter
def thousands(number: int | None) -> str:
    """10000 -> '10,000' (humanize is not installed, and one filter is all we need)."""
    return "" if number is None else f"{int(number):,}"
