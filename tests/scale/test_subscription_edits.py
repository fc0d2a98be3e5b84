"""Changes to one subscription from two servers on one PostgreSQL store. Each change reads the subscription and
writes it whole: of two at once, one's fields were lost, and a change beside a delete could write the deleted
subscription back. One change at a time across the processes (an advisory lock) keeps every field and every
delete."""

from __future__ import annotations

import asyncio

import pytest

from simulator.core.simulator import Simulator
from simulator.errors import NotFound
from simulator.models.inputs import SubscriptionPatch, SubscriptionSpec

URL = "http://127.0.0.1:9/hook"


async def test_changes_from_two_servers_at_once_all_stick(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    first = await Simulator.open(db, sends=False)
    second = await Simulator.open(db, sends=False)  # another server: its own connections, its own locks
    try:
        sub = await first.create_subscription(SubscriptionSpec(url=URL))
        for i in range(1, 21):
            await asyncio.gather(
                first.update_subscription(sub.id, SubscriptionPatch(timeout=float(i))),
                second.update_subscription(sub.id, SubscriptionPatch(max_in_flight=i)),
            )
            got = await first.subscription(sub.id)
            assert (got.timeout, got.max_in_flight) == (float(i), i), f"round {i}: one change was lost"
        for _ in range(10):
            doomed = await first.create_subscription(SubscriptionSpec(url=URL))
            deleted, changed = await asyncio.gather(
                first.delete_subscription(doomed.id),
                second.update_subscription(doomed.id, SubscriptionPatch(timeout=3.0)),
                return_exceptions=True,
            )
            assert deleted is None
            assert isinstance(changed, NotFound) or not isinstance(changed, BaseException), changed  # before, or 404
            with pytest.raises(NotFound):
                await second.subscription(doomed.id)  # deleted for good: the change did not write it back
    finally:
        await second.close()
        await first.close()
