"""Whether a simulator resumes the deliveries its store still holds when it starts.

`serve` (and a worker) resume every one of them: the store is the queue of record. `webhook-sim run --db FILE`
must not: a delivery an earlier, crashed run left belongs to that run's target, and a run that sent it would do
so unreported, interleaved with its own, and stop when its own run ended, leaving the rest half-sent. So `run`
opens its simulator inside `own_work_only()`: it sends what its run makes, and leaves the rest for a `serve` on
the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_resumes: ContextVar[bool] = ContextVar("resumes", default=True)


@contextmanager
def own_work_only() -> Iterator[None]:
    """A simulator opened within resumes none of the deliveries its store held (on a store of its own; on a
    shared one the processes that send on it share them, as always)."""
    token = _resumes.set(False)
    try:
        yield
    finally:
        _resumes.reset(token)


def resumes() -> bool:
    """Whether a simulator starting now resumes what its store still had to deliver."""
    return _resumes.get()
