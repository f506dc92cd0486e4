"""Server-side SVG charts for the analytics pages: values in, SVG markup out.

Pure functions, no Django and no JavaScript. A missing value (None) is no data, never zero:
the line stops there and starts again after it. Stretches where the collector saw too
little are drawn as labelled, hatched bands. Every chart carries a <title> and a <desc>
for screen readers, and every text in it is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Final

from mgmt.analytics.timeline import GAP, NONE, PARTIAL

# A bucket's coverage (mgmt.analytics.timeline) -> what its band says. FULL gets no band.
BAND_LABELS: Final = {
    GAP: "no data (collector gap)",
    PARTIAL: "partial data",
    NONE: "coverage unknown",
}
_SHORT_LABELS: Final = {GAP: "gap", PARTIAL: "partial", NONE: "unknown"}
_BAND_FILLS: Final = {PARTIAL: ("#f0e442", "0.3"), NONE: ("#bbbbbb", "0.2")}
# Colour-blind-safe (Okabe-Ito), in series order; CSS may override through the classes.
PALETTE: Final = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")

_FONT: Final = 'font-family="sans-serif" font-size="11"'


@dataclass(frozen=True, slots=True)
class Series:
    """One line: a value per bucket; None where there is no data."""

    label: str
    values: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class Band:
    """Buckets first..last (inclusive) whose coverage is `kind` (GAP or PARTIAL)."""

    first: int
    last: int
    kind: str


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    href: str = ""


@dataclass(frozen=True, slots=True)
class Frame:
    """Where the plot sits inside the SVG, in user units."""

    width: int = 720
    height: int = 220
    left: int = 56
    right: int = 12
    top: int = 26
    bottom: int = 28

    @property
    def plot_width(self) -> float:
        return float(self.width - self.left - self.right)

    @property
    def plot_height(self) -> float:
        return float(self.height - self.top - self.bottom)


def bands_of(coverage: Sequence[str]) -> list[Band]:
    """Runs of consecutive GAP or PARTIAL buckets, in order."""
    bands: list[Band] = []
    for index, kind in enumerate(coverage):
        if kind not in BAND_LABELS:
            continue
        if bands and bands[-1].kind == kind and bands[-1].last == index - 1:
            bands[-1] = Band(bands[-1].first, index, kind)
        else:
            bands.append(Band(index, index, kind))
    return bands


def segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The runs of consecutive known values, as (bucket index, value): one path each."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for index, value in enumerate(values):
        if value is None or math.isnan(value):
            if current:
                runs.append(current)
                current = []
            continue
        current.append((index, float(value)))
    if current:
        runs.append(current)
    return runs


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 x 10^n at or above `value` (1 for nothing to show)."""
    if value <= 0 or math.isnan(value) or math.isinf(value):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)  # pragma: no cover - the loop always returns


def compact_number(value: float) -> str:
    """12, 1.5k, 2.3M: short tick and bar labels."""
    size = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def time_label(step: timedelta) -> Callable[[datetime], str]:
    """How a bucket start reads on the time axis at this resolution (UTC)."""
    if step >= timedelta(days=1):
        return lambda moment: moment.strftime("%d %b")
    if step >= timedelta(hours=1):
        return lambda moment: moment.strftime("%d %b %H:%M")
    return lambda moment: moment.strftime("%H:%M")


def line_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    buckets: Sequence[datetime],
    step: timedelta,
    series: Sequence[Series],
    coverage: Sequence[str] = (),
    unit: str = "",
    area: bool = False,
    frame: Frame | None = None,
) -> str:
    """Lines over time, one value per bucket each, with gap and partial bands behind them.

    `chart_id` must be unique on the page (it names the title, desc and hatch pattern).
    With `area`, the first series is filled down to zero.
    """
    frame = frame or Frame()
    n = len(buckets)
    known = [v for s in series for v in s.values if v is not None and not math.isnan(v)]
    top = nice_ceiling(max(known, default=0.0))
    slot = frame.plot_width / max(n, 1)

    def x(index: float) -> float:
        return frame.left + (index + 0.5) * slot

    def y(value: float) -> float:
        return frame.top + frame.plot_height * (1 - value / top)

    parts = [_open(chart_id, title, desc, frame.width, frame.height), _hatch(chart_id)]
    if n == 0 or not known:
        parts.append(_empty_note(frame, "no data in this range" if n else "no buckets"))
    parts += _bands(chart_id, bands_of(coverage), frame, slot)
    parts += _y_axis(frame, top, unit)
    parts += _x_axis(frame, buckets, step, x)
    for number, line in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        css = f"tg-series tg-series-{number}"
        for run in segments(line.values):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            if area and number == 0:
                floor = y(0.0)
                first, last = x(run[0][0]), x(run[-1][0])
                parts.append(
                    f'<path class="tg-area" fill="{colour}" fill-opacity="0.15" stroke="none" '
                    f'd="M{first:.1f},{floor:.1f} L{points} L{last:.1f},{floor:.1f} Z"/>'
                )
            if len(run) == 1:
                # A lone value between gaps: a dot, since a one-point path draws nothing.
                (i, v) = run[0]
                parts.append(
                    f'<circle class="{css}" data-series="{escape(line.label)}" '
                    f'cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>'
                )
            else:
                parts.append(
                    f'<path class="{css}" data-series="{escape(line.label)}" fill="none" '
                    f'stroke="{colour}" stroke-width="1.6" stroke-linejoin="round" '
                    f'd="M{points.replace(" ", " L")}"/>'
                )
    parts += _legend(frame, [s.label for s in series])
    parts.append("</svg>")
    return "".join(parts)


def sparkline(
    *,
    chart_id: str,
    title: str,
    values: Sequence[float | None],
    coverage: Sequence[str] = (),
    width: int = 120,
    height: int = 24,
) -> str:
    """A small line of one series for a table cell: no axes, gaps still shown."""
    frame = Frame(width=width, height=height, left=1, right=1, top=2, bottom=2)
    known = [v for v in values if v is not None and not math.isnan(v)]
    top = max(known, default=0.0) or 1.0
    slot = frame.plot_width / max(len(values), 1)
    parts = [_open(chart_id, title, title, width, height, css="tg-sparkline"), _hatch(chart_id)]
    parts += _bands(chart_id, bands_of(coverage), frame, slot, labelled=False)
    for run in segments(values):
        points = [
            f"{frame.left + (i + 0.5) * slot:.1f},"
            f"{frame.top + frame.plot_height * (1 - v / top):.1f}"
            for i, v in run
        ]
        if len(points) == 1:
            cx, cy = points[0].split(",")
            parts.append(f'<circle class="tg-series-0" cx="{cx}" cy="{cy}" r="1.5"/>')
        else:
            parts.append(
                f'<path class="tg-series-0" fill="none" stroke="{PALETTE[0]}" '
                f'stroke-width="1.2" d="M{" L".join(points)}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    bars: Sequence[Bar],
    unit: str = "",
    width: int = 520,
    bar_height: int = 18,
    label_width: int = 200,
) -> str:
    """Horizontal bars, largest scale first as given; a bar with an href is a link."""
    gap = 6
    height = max(1, len(bars)) * (bar_height + gap) + gap
    top = nice_ceiling(max((b.value for b in bars), default=0.0))
    room = width - label_width - 70
    parts = [_open(chart_id, title, desc, width, height)]
    if not bars:
        parts.append(
            f'<text {_FONT} x="{width / 2:.0f}" y="{height / 2 + 4:.0f}" '
            f'text-anchor="middle" fill="#555">nothing to show</text>'
        )
    for index, bar in enumerate(bars):
        y = gap + index * (bar_height + gap)
        length = max(0.0, room * bar.value / top)
        label = escape(bar.label)
        shape = (
            f'<text {_FONT} x="{label_width - 6}" y="{y + bar_height - 5}" text-anchor="end" '
            f'fill="#222">{label}</text>'
            f'<rect class="tg-bar" x="{label_width}" y="{y}" width="{length:.1f}" '
            f'height="{bar_height}" fill="{PALETTE[0]}"><title>{label}: '
            f"{escape(compact_number(bar.value))}{escape(unit)}</title></rect>"
            f'<text {_FONT} x="{label_width + length + 4:.1f}" y="{y + bar_height - 5}" '
            f'fill="#222">{escape(compact_number(bar.value))}{escape(unit)}</text>'
        )
        if bar.href:
            shape = f'<a href="{escape(bar.href)}">{shape}</a>'
        parts.append(shape)
    parts.append("</svg>")
    return "".join(parts)


def _open(chart_id: str, title: str, desc: str, width: int, height: int, *, css: str = "") -> str:
    ident = escape(chart_id)
    classes = f"tg-chart {css}".strip()
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{classes}" id="{ident}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" preserveAspectRatio="xMinYMin meet">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>'
    )


def _hatch(chart_id: str) -> str:
    return (
        f'<defs><pattern id="{escape(chart_id)}-hatch" patternUnits="userSpaceOnUse" '
        f'width="6" height="6" patternTransform="rotate(45)">'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="2"/>'
        f"</pattern></defs>"
    )


def _bands(
    chart_id: str, bands: Sequence[Band], frame: Frame, slot: float, *, labelled: bool = True
) -> list[str]:
    parts = []
    for band in bands:
        left = frame.left + band.first * slot
        width = (band.last - band.first + 1) * slot
        label = BAND_LABELS[band.kind]
        fill, opacity = _BAND_FILLS.get(band.kind, (f"url(#{escape(chart_id)}-hatch)", "1"))
        parts.append(
            f'<rect class="tg-band tg-band-{band.kind}" data-coverage="{band.kind}" '
            f'x="{left:.1f}" y="{frame.top}" width="{width:.1f}" height="{frame.plot_height:.1f}" '
            f'fill="{fill}" fill-opacity="{opacity}"><title>{escape(label)}</title></rect>'
        )
        if labelled:
            parts.append(
                f'<text class="tg-band-label" {_FONT} x="{left + 2:.1f}" y="{frame.top + 11}" '
                f'fill="#444">{escape(label if width >= 90 else _SHORT_LABELS[band.kind])}</text>'
            )
    return parts


def _y_axis(frame: Frame, top: float, unit: str) -> list[str]:
    parts = []
    for fraction in (0.0, 0.5, 1.0):
        value = top * fraction
        y = frame.top + frame.plot_height * (1 - fraction)
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#ddd" stroke-width="1"/>'
            f'<text {_FONT} x="{frame.left - 4}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="#555">{escape(compact_number(value))}{escape(unit)}</text>'
        )
    return parts


def _x_axis(
    frame: Frame, buckets: Sequence[datetime], step: timedelta, x: Callable[[float], float]
) -> list[str]:
    if not buckets:
        return []
    label = time_label(step)
    bottom = frame.height - frame.bottom
    parts = [
        f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{bottom}" y2="{bottom}" '
        f'stroke="#999" stroke-width="1"/>'
    ]
    picks = sorted({0, len(buckets) // 2, len(buckets) - 1})
    for index in picks:
        anchor = "start" if index == 0 else "end" if index == len(buckets) - 1 else "middle"
        parts.append(
            f'<text {_FONT} x="{x(index):.1f}" y="{bottom + 16}" text-anchor="{anchor}" '
            f'fill="#555">{escape(label(buckets[index]))}</text>'
        )
    return parts


def _legend(frame: Frame, labels: Sequence[str]) -> list[str]:
    parts = []
    x = float(frame.left)
    for number, label in enumerate(labels):
        colour = PALETTE[number % len(PALETTE)]
        parts.append(
            f'<rect x="{x:.0f}" y="6" width="10" height="10" fill="{colour}"/>'
            f'<text {_FONT} x="{x + 14:.0f}" y="15" fill="#222">{escape(label)}</text>'
        )
        x += 24 + 6.5 * len(label)
    return parts


def _empty_note(frame: Frame, text: str) -> str:
    return (
        f'<text class="tg-empty" {_FONT} x="{frame.left + frame.plot_width / 2:.0f}" '
        f'y="{frame.top + frame.plot_height / 2:.0f}" text-anchor="middle" '
        f'fill="#555">{escape(text)}</text>'
    )
