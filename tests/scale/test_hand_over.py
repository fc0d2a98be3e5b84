"""A sender that hands subscriptions over to one joining waits for their attempts under way beside its rounds, not
in them: a round that waited for them renewed nothing meanwhile, so under a short lease the subscriptions it kept
lapsed too, the newcomer took them and sent their deliveries again while the first sender's were still open. And it
waits for them to end on their own, within their timeout: cut after a grace, they were sent again by the newcomer."""

from __future__ import annotations

import asyncio
import re

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, RetrySpec, SubscriptionSpec
from tests.conftest import silent_receiver
from tests.scale.helpers import lease_owners, until

TTL = 4.0  # under the attempts' timeout: a round that waits for them outlives the leases it did not renew
TIMEOUT = 6.0  # past the 5 s grace that cut a handed-over attempt


def ids(got: list[bytes]) -> list[str]:
    return [m.group(1).decode() for raw in got if (m := re.search(rb"(?i)webhook-id: (\S+)", raw))]


async def test_a_hand_over_keeps_its_leases_and_lets_its_attempts_end(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    async with silent_receiver() as (url, got):
        first = await Simulator.open(db, lease_ttl=TTL)
        second: Simulator | None = None
        try:
            spec = SubscriptionSpec(url=url, timeout=TIMEOUT, signing="standard", retry=RetrySpec(delays=[600]))
            for _ in range(4):  # each with one attempt open until its timeout (no answer comes), its retry far off
                sub = await first.create_subscription(spec)
                await first.emit(EventSpec(type="token.created", subscriptions=[sub.id]))
            await until(lambda: len(got) == 4, 30, "the four requests")
            second = await Simulator.open(db, lease_ttl=TTL)
            me, newcomer = first.engine.me, second.engine.me

            async def split() -> bool:
                owners = list((await lease_owners(first)).values())
                return owners.count(me) == 2 and owners.count(newcomer) == 2

            for _ in range(3000):  # two handed over once their attempts timed out
                if await split() and not first.engine._sharing._hand_overs:  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.01)
            assert await split(), await lease_owners(first)
            assert len(got) == 4 and len(set(ids(got))) == 4, ids(got)  # none sent again
            await first.store.writer.barrier()
            for sent in ids(got):  # each attempt ended by its own timeout, none cut by the hand-over
                [attempt] = (await first.delivery(sent)).attempt_log
                assert attempt.error and not attempt.error.startswith("interrupted"), attempt.error
        finally:
            if second is not None:
                await asyncio.wait_for(second.close(grace=0.2), 30)
            await asyncio.wait_for(first.close(grace=0.2), 30)


async def test_a_stopping_sender_keeps_its_leases_while_its_attempts_finish(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clean stop ended the lease rounds before the lanes' grace: nothing was renewed while the attempts under way
    finished, so under a lease shorter than the grace another sender took the subscription and sent the open
    delivery again beside it."""
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    async with silent_receiver() as (url, got):
        first = await Simulator.open(db, lease_ttl=3.0)
        second: Simulator | None = None
        closing: asyncio.Task[None] | None = None
        try:
            await first.create_subscription(SubscriptionSpec(url=url, timeout=60, signing="standard"))
            await first.emit(EventSpec(type="token.created"))
            await until(lambda: len(got) == 1, 30, "the request")
            second = await Simulator.open(db, lease_ttl=3.0)
            closing = asyncio.create_task(first.close(grace=6.0))  # twice the lease: the attempt never answers
            while not closing.done():
                assert len(got) == 1, "sent again while the first sender's attempt was still open"
                await asyncio.sleep(0.01)
            await closing
            await until(lambda: len(got) == 2, 30, "the delivery sent again once the first sender stopped")
            assert len(set(ids(got))) == 1
        finally:
            if second is not None:
                await asyncio.wait_for(second.close(grace=0.2), 30)
            await asyncio.wait_for(closing if closing is not None else first.close(grace=0.2), 30)
