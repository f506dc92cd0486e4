"""The SVG charts: well-formed, accessible, and a gap in the data is a gap, never zero."""

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from mgmt.analytics import charts
from mgmt.analytics.charts import Band, Bar, Series
from mgmt.analytics.timeline import FULL, GAP, NONE, PARTIAL

pytestmark = pytest.mark.pure

SVG = "{http://www.w3.org/2000/svg}"
START = datetime(2025, 3, 30, 0, 0, tzinfo=UTC)


def minutes(n: int) -> list[datetime]:
    return [START + timedelta(minutes=i) for i in range(n)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, the thing under test


def series_paths(root: ET.Element) -> list[ET.Element]:
    return [p for p in root.iter(f"{SVG}path") if "tg-series" in p.get("class", "")]


def path_points(path: ET.Element) -> list[tuple[float, float]]:
    coordinates = path.get("d", "").replace("M", "").split(" L")
    return [tuple(float(c) for c in point.split(",")) for point in coordinates]  # type: ignore[misc]


def requests_per_minute(
    values: list[float | None], coverage: Sequence[str] = (), *, area: bool = False
) -> ET.Element:
    """The line chart "traffic" of one series, a value a minute from START, parsed."""
    svg = charts.line_chart(
        chart_id="traffic",
        title="Requests",
        desc="Requests per minute",
        buckets=minutes(len(values)),
        step=timedelta(minutes=1),
        series=[Series("requests", values)],
        coverage=coverage,
        area=area,
    )
    return parse(svg)


def test_a_gap_splits_the_line_into_separate_paths() -> None:
    root = requests_per_minute(
        [5, 6, 7, None, None, 4, 3, 2], [FULL, FULL, FULL, GAP, GAP, FULL, FULL, FULL]
    )
    paths = series_paths(root)
    assert [len(path_points(p)) for p in paths] == [3, 3]
    # The line stops at bucket 2 and starts again at bucket 5: nothing is drawn between.
    slot = (720 - 56 - 12) / 8
    first_end = path_points(paths[0])[-1][0]
    second_start = path_points(paths[1])[0][0]
    assert second_start - first_end == pytest.approx(3 * slot, abs=0.2)


def test_a_gap_band_is_hatched_and_labelled_over_exactly_its_buckets() -> None:
    root = requests_per_minute(
        [1, 1, None, None, None, 1, 1, 1, 1, 1],
        [FULL, FULL, GAP, GAP, GAP, FULL, PARTIAL, FULL, FULL, FULL],
    )
    bands = [r for r in root.iter(f"{SVG}rect") if r.get("data-coverage")]
    assert [b.get("data-coverage") for b in bands] == [GAP, PARTIAL]
    gap = bands[0]
    assert gap.get("fill") == "url(#traffic-hatch)"
    assert root.find(f".//{SVG}pattern[@id='traffic-hatch']") is not None
    slot = (720 - 56 - 12) / 10
    assert float(gap.get("x", "0")) == pytest.approx(56 + 2 * slot, abs=0.1)
    assert float(gap.get("width", "0")) == pytest.approx(3 * slot, abs=0.1)
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tg-band-label"]
    assert labels == ["no data (collector gap)", "partial"]


def test_a_chart_has_a_title_and_description_it_is_labelled_by() -> None:
    svg = charts.line_chart(
        chart_id="latency",
        title="p50 and p99 <ms>",
        desc='Latency of "orders" v1 & v2',
        buckets=minutes(3),
        step=timedelta(minutes=1),
        series=[Series("p50", [1.0, 2.0, 3.0]), Series("p99", [5.0, 6.0, 9.0])],
    )
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "latency-title latency-desc"
    assert root.findtext(f"{SVG}title") == "p50 and p99 <ms>"
    assert root.findtext(f"{SVG}desc") == 'Latency of "orders" v1 & v2'
    assert {p.get("data-series") for p in series_paths(root)} == {"p50", "p99"}


def test_an_empty_series_draws_no_line_and_says_so() -> None:
    root = requests_per_minute([None] * 5)
    assert series_paths(root) == []
    assert "no data in this range" in [t.text for t in root.iter(f"{SVG}text")]


def test_no_buckets_at_all_is_still_a_well_formed_chart() -> None:
    root = parse(
        charts.line_chart(
            chart_id="none", title="t", desc="d", buckets=[], step=timedelta(hours=1), series=[]
        )
    )
    assert series_paths(root) == []


def test_zero_traffic_is_drawn_at_the_baseline_unlike_a_gap() -> None:
    (path,) = series_paths(requests_per_minute([0, 0, 0]))
    baseline = 220 - 28
    assert [y for _, y in path_points(path)] == pytest.approx([baseline] * 3)


def test_a_lone_value_between_gaps_is_a_dot() -> None:
    root = requests_per_minute([None, 4, None])
    assert series_paths(root) == []
    assert len([c for c in root.iter(f"{SVG}circle") if "tg-series" in c.get("class", "")]) == 1


def test_the_area_follows_each_segment_down_to_zero() -> None:
    root = requests_per_minute([1, 2, None, 3, 4], area=True)
    areas = [p for p in root.iter(f"{SVG}path") if p.get("class") == "tg-area"]
    assert len(areas) == 2
    assert all(p.get("d", "").endswith("Z") for p in areas)


def test_hostile_labels_are_escaped_text() -> None:
    label = '</text><script>alert(1)</script>"'
    svg = charts.bar_chart(
        chart_id="bars",
        title=label,
        desc=label,
        bars=[Bar(label, 3, href="/admin/?a=1&b=2")],
    )
    root = parse(svg)
    assert root.find(f".//{SVG}script") is None
    assert label in [t.text for t in root.iter(f"{SVG}text")]
    (link,) = root.iter(f"{SVG}a")
    assert link.get("href") == "/admin/?a=1&b=2"


def test_bars_scale_to_the_largest_value() -> None:
    root = parse(
        charts.bar_chart(
            chart_id="b", title="t", desc="d", bars=[Bar("a", 100), Bar("b", 50), Bar("c", 0)]
        )
    )
    widths = [float(r.get("width", "0")) for r in root.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert widths[2] == 0


def test_no_bars_is_a_well_formed_chart_that_says_so() -> None:
    root = parse(charts.bar_chart(chart_id="b", title="t", desc="d", bars=[]))
    assert [t.text for t in root.iter(f"{SVG}text")] == ["nothing to show"]


def test_a_sparkline_breaks_at_gaps_too() -> None:
    root = parse(
        charts.sparkline(chart_id="s", title="Requests of orders v1", values=[1, 2, None, 2, 3, 4])
    )
    assert len(series_paths(root)) == 2
    assert root.findtext(f"{SVG}title") == "Requests of orders v1"


def test_bands_merge_runs_of_the_same_coverage() -> None:
    coverage = [FULL, GAP, GAP, PARTIAL, FULL, GAP, NONE, NONE]
    assert charts.bands_of(coverage) == [
        Band(1, 2, GAP),
        Band(3, 3, PARTIAL),
        Band(5, 5, GAP),
        Band(6, 7, NONE),
    ]


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (0.3, 0.5), (1, 1), (7, 10), (101, 200), (4999, 5000)]
)
def test_the_scale_ends_at_a_round_number(value: float, ceiling: float) -> None:
    assert charts.nice_ceiling(value) == pytest.approx(ceiling)


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (12, "12"), (1500, "1.5k"), (2_340_000, "2.34M"), (0.25, "0.25")]
)
def test_numbers_are_compact(value: float, text: str) -> None:
    assert charts.compact_number(value) == text


def test_the_time_axis_reads_in_the_resolution_of_its_buckets() -> None:
    moment = datetime(2025, 3, 30, 14, 5, tzinfo=UTC)
    assert charts.time_label(timedelta(minutes=1))(moment) == "14:05"
    assert charts.time_label(timedelta(hours=1))(moment) == "30 Mar 14:05"
    assert charts.time_label(timedelta(days=1))(moment) == "30 Mar"
