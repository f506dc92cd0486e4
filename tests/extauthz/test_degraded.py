"""The degraded watch: a log line a minute at most, reports at once and while it lasts,
the recovery reported until the control plane has it; the gauges read the store."""

import asyncio

from prometheus_client import CollectorRegistry

from extauthz.degraded import (
    COUNTERS_UNREACHABLE,
    Condition,
    DegradedWatch,
    counters_gauges,
    watch_counters,
)

DOWN = 1_000.0


def test_healthy_counters_say_nothing():
    watch = DegradedWatch()
    for now in range(0, 300, 1):
        tick = watch.tick(None, float(now), (0, 0))
        assert tick.log is None and tick.report is None


def test_an_outage_is_reported_at_once_and_logged_at_most_once_a_minute():
    watch = DegradedWatch()
    first = watch.tick(DOWN, DOWN + 0.5, (0, 0))
    # The store logged the outage as it began; the control plane hears it now.
    assert first.log is None
    assert first.report == Condition(COUNTERS_UNREACHABLE, True, DOWN, first.report.detail)
    logs = []
    for second in range(1, 181):
        tick = watch.tick(DOWN, DOWN + second, (second * 10, second))
        if tick.log is not None:
            logs.append((second, tick.log))
    assert [second for second, _ in logs] == [60, 120, 180]
    # Each line says since when and what happened on this node alone in its minute.
    assert "since 1970-01-01 00:16:40 UTC (60 s)" in logs[0][1]
    assert "(600 admitted, 60 refused in the last minute)" in logs[0][1]
    assert "(600 admitted, 60 refused in the last minute)" in logs[1][1]


def test_the_report_repeats_while_degraded_so_a_restarted_control_plane_learns_it():
    watch = DegradedWatch(report_every=30.0)
    reported_at = [
        second
        for second in range(0, 95)
        if watch.tick(DOWN, DOWN + second, (0, 0)).report is not None
    ]
    assert reported_at == [0, 30, 60, 90]


def test_a_failed_report_is_retried_on_the_next_tick():
    watch = DegradedWatch()
    report = watch.tick(DOWN, DOWN, (0, 0)).report
    assert report is not None
    watch.report_failed(DOWN)
    assert watch.tick(DOWN, DOWN + 1, (0, 0)).report is not None


def test_recovery_is_reported_until_the_control_plane_has_it():
    watch = DegradedWatch()
    watch.tick(DOWN, DOWN, (0, 0))
    cleared = watch.tick(None, DOWN + 5, (0, 0)).report
    assert cleared is not None
    assert (cleared.active, cleared.since) == (False, DOWN)
    assert watch.tick(None, DOWN + 6, (0, 0)).report == cleared  # not taken yet: again
    watch.reported(cleared)
    assert watch.tick(None, DOWN + 7, (0, 0)).report is None


def test_a_second_outage_is_a_new_condition():
    watch = DegradedWatch()
    watch.tick(DOWN, DOWN, (0, 0))
    watch.tick(None, DOWN + 5, (0, 0))
    again = watch.tick(DOWN + 100, DOWN + 100, (0, 0)).report
    assert again is not None
    assert (again.active, again.since) == (True, DOWN + 100)
    # The first outage's clearing is superseded by the new one: never reported late.
    assert watch.tick(DOWN + 100, DOWN + 101, (0, 0)).report is None


def test_gauges_read_the_store_at_scrape_time():
    registry = CollectorRegistry()
    state: dict[str, float | None] = {"since": None}
    counters_gauges(registry, lambda: state["since"])
    assert registry.get_sample_value("tollgate_counters_unreachable") == 0.0
    assert registry.get_sample_value("tollgate_counters_unreachable_since_seconds") == 0.0
    state["since"] = DOWN
    assert registry.get_sample_value("tollgate_counters_unreachable") == 1.0
    assert registry.get_sample_value("tollgate_counters_unreachable_since_seconds") == DOWN


def test_the_loop_logs_and_reports_and_survives_a_control_plane_that_is_away(caplog):
    sent: list[Condition] = []
    failures = [True]  # the first report fails

    async def report(condition: Condition) -> None:
        if failures and failures.pop():
            raise ConnectionError("xds_server away")
        sent.append(condition)

    clock = iter(DOWN + 60.0 * i for i in range(100))

    async def run() -> None:
        task = asyncio.create_task(
            watch_counters(
                DegradedWatch(),
                lambda: DOWN,
                lambda: (0, 0),
                report,
                interval=0.001,
                clock=lambda: next(clock),
            )
        )
        while len(sent) < 2:
            await asyncio.sleep(0.001)
        task.cancel()

    with caplog.at_level("WARNING", logger="extauthz.degraded"):
        asyncio.run(run())
    assert all(c.active and c.since == DOWN for c in sent)
    assert any("counters unreachable since" in r.getMessage() for r in caplog.records)
