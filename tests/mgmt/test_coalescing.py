"""The coalescing rules, without threads or a database: who publishes, who waits, who is
covered by someone else's publication."""

import pytest

from mgmt.controlplane.coalescing import Coalescer, Covered, Start, Wait

pytestmark = pytest.mark.pure

GAP = 0.25


def test_an_isolated_commit_publishes_at_once():
    c: Coalescer[str] = Coalescer()

    assert c.next_step(c.ticket(), now=0.0, gap=GAP) == Start(1)


def test_a_commit_during_a_publication_waits_for_it_and_is_not_covered_by_it():
    c: Coalescer[str] = Coalescer()
    first = c.next_step(c.ticket(), now=0.0, gap=GAP)
    late = c.ticket()  # committed while publication 1 reads the rows

    assert c.next_step(late, now=0.01, gap=GAP) == Wait(None)
    assert isinstance(first, Start)
    c.ended(first.number, now=0.05, result="v1")

    # Publication 1 started before this commit: it must publish again, after the gap.
    assert c.next_step(late, now=0.06, gap=GAP) == Wait(pytest.approx(0.24))
    assert c.next_step(late, now=0.30, gap=GAP) == Start(2)


def test_commits_in_one_gap_share_one_publication():
    c: Coalescer[str] = Coalescer()
    c.next_step(c.ticket(), now=0.0, gap=GAP)
    c.ended(1, now=0.01, result="v1")
    burst = [c.ticket() for _ in range(50)]  # fifty commits in the gap

    assert all(isinstance(c.next_step(t, now=0.1, gap=GAP), Wait) for t in burst)
    steps = [c.next_step(t, now=0.3, gap=GAP) for t in burst]
    assert steps[0] == Start(2)
    assert steps[1:] == [Wait(None)] * 49
    c.ended(2, now=0.32, result="v2")

    assert {c.next_step(t, now=0.33, gap=GAP) for t in burst} == {Covered("v2")}


def test_a_commit_after_a_publication_started_is_never_covered_by_it():
    c: Coalescer[str] = Coalescer()
    early = c.ticket()
    c.next_step(early, now=0.0, gap=GAP)
    late = c.ticket()
    c.ended(1, now=0.01, result="v1")

    assert c.next_step(early, now=0.02, gap=GAP) == Covered("v1")
    assert not isinstance(c.next_step(late, now=0.02, gap=GAP), Covered)


def test_a_failed_publication_covers_nobody_and_its_waiters_publish_themselves():
    c: Coalescer[str] = Coalescer()
    waiter = c.ticket()
    c.next_step(c.ticket(), now=0.0, gap=0.0)

    c.ended(1, now=0.01, result=None)

    assert c.next_step(waiter, now=0.02, gap=0.0) == Start(2)
    c.ended(2, now=0.03, result="v2")
    assert c.next_step(waiter, now=0.04, gap=0.0) == Covered("v2")


def test_without_a_gap_commits_only_combine_while_a_publication_runs():
    c: Coalescer[str] = Coalescer()
    c.next_step(c.ticket(), now=0.0, gap=0.0)
    c.ended(1, now=0.01, result="v1")

    assert c.next_step(c.ticket(), now=0.01, gap=0.0) == Start(2)


@pytest.mark.parametrize("seconds", [1.0, 10.0])
def test_publications_are_bounded_by_the_gap_however_many_commits(seconds: float):
    """A commit every millisecond for `seconds`: publications start at most once per gap
    (after the leading one), and the last commit is covered by a later publication."""
    c: Coalescer[int] = Coalescer()
    pending: list[tuple[int, int]] = []  # (commit index, ticket) not yet covered
    covered_by: dict[int, int] = {}
    running: Start | None = None
    started = 0
    for ms in range(int(seconds * 1000) + 2000):  # two more seconds for the tail to drain
        now = ms / 1000
        if running is not None and ms % 5 == 0:  # a publication takes 5 ms
            c.ended(running.number, now, result=running.number)
            running = None
        if now < seconds:
            pending.append((ms, c.ticket()))
        still = []
        for index, ticket in pending:
            step = c.next_step(ticket, now, GAP)
            if isinstance(step, Covered):
                covered_by[index] = step.result
            else:
                if isinstance(step, Start):
                    running, started = step, started + 1
                still.append((index, ticket))
        pending = still

    assert not pending
    assert len(covered_by) == int(seconds * 1000)
    assert started <= 1 + seconds / GAP
    assert started >= seconds / (GAP + 0.01)  # and not fewer: the burst keeps publishing
