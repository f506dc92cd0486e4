"""The restart policy of `make run`: capped exponential backoff, forgiven after a stable run."""

import signal

import pytest

from mgmt.embedded.supervisor import Backoff, Supervisor, describe_exit

pytestmark = pytest.mark.pure

POLICY = Backoff(first=0.5, factor=2.0, cap=8.0, stable_after=30.0)


def test_backoff_doubles_from_the_first_delay_up_to_the_cap() -> None:
    assert [POLICY.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_stays_at_the_cap_for_any_number_of_attempts() -> None:
    assert POLICY.delay(10_000) == 8.0


@pytest.mark.parametrize(
    "kwargs", [{"first": 0}, {"factor": 0.5}, {"first": 10.0, "cap": 1.0}, {"stable_after": -1}]
)
def test_a_backoff_that_would_spin_or_shrink_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        POLICY.delay(0)


def test_deaths_in_a_row_wait_longer_each_time() -> None:
    supervisor = Supervisor(POLICY)
    supervisor.started("xds_server", now=100.0)
    delays = []
    now = 101.0
    for _ in range(6):
        restart = supervisor.exited("xds_server", now)
        delays.append((restart.attempt, restart.delay))
        assert restart.due == now + restart.delay
        supervisor.started("xds_server", restart.due)
        now = restart.due + 1.0  # dies a second after each restart
    assert delays == [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0)]


def test_a_child_that_stayed_up_long_enough_starts_again_from_the_first_delay() -> None:
    supervisor = Supervisor(POLICY)
    supervisor.started("mgmt", now=0.0)
    started = 0.0
    for _ in range(4):
        restart = supervisor.exited("mgmt", now=started + 0.1)  # dies at once, four times
        started = restart.due
        supervisor.started("mgmt", started)
    assert restart.attempt == 4
    recovered = supervisor.exited("mgmt", now=restart.due + 30.0)
    assert (recovered.attempt, recovered.delay) == (1, 0.5)
    assert recovered.uptime == 30.0


def test_a_death_seen_twice_is_counted_once() -> None:
    supervisor = Supervisor(POLICY)
    supervisor.started("redis", now=0.0)
    first = supervisor.exited("redis", now=1.0)
    assert supervisor.waiting("redis")
    assert supervisor.exited("redis", now=1.05) == first


def test_only_restarts_whose_time_has_come_are_due_earliest_first() -> None:
    supervisor = Supervisor(POLICY)
    for name in ("mgmt", "xds_server", "extauthz"):
        supervisor.started(name, now=0.0)
    supervisor.exited("xds_server", now=1.0)  # due 1.5
    supervisor.exited("mgmt", now=1.2)  # due 1.7
    assert supervisor.due(1.4) == []
    assert [r.name for r in supervisor.due(1.6)] == ["xds_server"]
    assert [r.name for r in supervisor.due(2.0)] == ["xds_server", "mgmt"]
    supervisor.started("xds_server", now=2.0)
    assert not supervisor.waiting("xds_server")
    assert [r.name for r in supervisor.due(2.0)] == ["mgmt"]
    assert not supervisor.waiting("extauthz")


def test_each_child_has_its_own_count() -> None:
    supervisor = Supervisor(POLICY)
    supervisor.started("a", now=0.0)
    supervisor.started("b", now=0.0)
    for t in (1.0, 2.0, 3.0):
        supervisor.exited("a", now=t)
        supervisor.started("a", now=t + 0.5)
    assert supervisor.exited("a", now=4.0).attempt == 4
    assert supervisor.exited("b", now=4.0).attempt == 1


@pytest.mark.parametrize(
    ("returncode", "said"),
    [
        (0, "exit code 0"),
        (1, "exit code 1"),
        (-signal.SIGKILL, "killed by SIGKILL"),
        (-signal.SIGSEGV, "killed by SIGSEGV"),
        (-200, "killed by signal 200"),
    ],
)
def test_an_exit_is_described_by_its_code_or_signal(returncode: int, said: str) -> None:
    assert describe_exit(returncode) == said
