"""The `reorder` and `burst` holds let deliveries go in their planned order however the writer groups commits:
a reorder window that straddles two bursts (5 and 4) once went out in two parts, in an order that changed from
run to run with the grouping."""

from __future__ import annotations

import random

import pytest

from simulator.delivery.faults_hold import Holds
from simulator.delivery.job import Job


def _job(i: int) -> Job:
    return Job(id=f"d{i}", n=i, subscription_id="sub", run_id="run", events=[], envelope_id=f"e{i}", speed=0, due=0)


def _sent(reorder: int, burst: int, groups: list[int], count: int = 40) -> list[str]:
    """The ids let go, in sending order, when `count` deliveries commit in groups of the given sizes."""
    holds = Holds()
    jobs = [_job(i) for i in range(count)]
    for job in jobs:
        holds.hold(
            job,
            [],
            reorder=reorder,
            burst=burst,
            delay=0.0,
            spacing=0.0,
            shuffle=lambda size, window: random.Random(window).sample(range(size), size),
        )
    sent: list[Job] = []
    start = 0
    for size in groups:
        freed = holds.committed(jobs[start : start + size])[1]
        sent.extend(sorted(freed, key=lambda j: j.due))  # the lane sends by due time
        start += size
    sent.extend(sorted(holds.release("run"), key=lambda j: j.due))
    assert len(holds) == 0
    return [j.id for j in sent]


@pytest.mark.parametrize(("reorder", "burst"), [(5, 4), (3, 8), (4, 8), (8, 4), (5, 0), (0, 4)])
def test_the_sending_order_does_not_depend_on_how_commits_are_grouped(reorder: int, burst: int) -> None:
    whole = _sent(reorder, burst, [40])
    assert sorted(whole) == sorted(f"d{i}" for i in range(40))  # every delivery, once
    rng = random.Random(7)
    for _ in range(20):
        groups: list[int] = []
        while sum(groups) < 40:
            groups.append(rng.randint(1, 7))
        assert _sent(reorder, burst, groups) == whole, groups
    assert _sent(reorder, burst, [1] * 40) == whole


def test_what_never_commits_holds_nothing_back_once_the_run_ends() -> None:
    """A delivery whose write failed is forgotten at the run's end, and what waited behind it goes."""
    sent = _sent(5, 4, [3])  # only the first three commit; the rest never do
    assert set(sent) <= {"d0", "d1", "d2"} and len(sent) == 3


@pytest.mark.parametrize(("reorder", "burst"), [(4, 0), (0, 3), (4, 3)])
def test_a_resumed_run_goes_on_in_the_window_and_group_a_stopped_process_left(reorder: int, burst: int) -> None:
    """22 placed before the stop: the 23rd is third in window 5 and second in burst group 7, and once the rest of
    each has committed they go, in the window's order, not at the run's end with everything placed after them."""
    holds = Holds()
    holds.resume("run", {("reorder", "sub", 4): 22, ("burst", "sub", 3): 22})
    jobs = [_job(i) for i in range(22, 30)]
    shuffle = lambda size, window: random.Random(window).sample(range(size), size)  # noqa: E731
    places = [
        holds.hold(job, [], reorder=reorder, burst=burst, delay=0.0, spacing=0.0, shuffle=shuffle) for job in jobs
    ]
    if reorder:
        assert [(p.window, p.position) for p in places[:3]] == [(5, 2), (5, 3), (6, 0)]
    if burst:
        assert [p.group for p in places[:3]] == [7, 7, 8]
    freed = holds.committed(jobs[:2])[1]  # the last members of window 5 (20 to 23) and of group 7 (21 to 23)
    assert sorted(j.id for j in freed) == ["d22", "d23"]
