"""A sender that hands subscriptions over to one joining waits for their attempts under way beside its rounds, not
in them: a round that waited GIVE_BACK_GRACE renewed nothing meanwhile, so under a short lease the subscriptions it
kept lapsed too, the newcomer took them and sent their deliveries again while the first sender's were still open."""

from __future__ import annotations

import asyncio
import re

import pytest

from simulator.core.simulator import Simulator
from simulator.models.inputs import EventSpec, SubscriptionSpec
from tests.conftest import silent_receiver
from tests.scale.helpers import lease_owners, until

TTL = 4.0  # under the give-back's grace (5 s): a round that waits for it outlives the leases it did not renew


def ids(got: list[bytes]) -> list[str]:
    return [m.group(1).decode() for raw in got if (m := re.search(rb"(?i)webhook-id: (\S+)", raw))]


async def test_a_hand_over_keeps_the_leases_it_does_not_give(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SIM_SECRET_KEY", "scale-tests")
    async with silent_receiver() as (url, got):
        first = await Simulator.open(db, lease_ttl=TTL)
        second: Simulator | None = None
        try:
            for _ in range(4):  # each with one attempt open for the whole test (no answer comes)
                sub = await first.create_subscription(SubscriptionSpec(url=url, timeout=60, signing="standard"))
                await first.emit(EventSpec(type="token.created", subscriptions=[sub.id]))
            await until(lambda: len(got) == 4, 30, "the four requests")
            second = await Simulator.open(db, lease_ttl=TTL)
            me, newcomer = first.engine.me, second.engine.me

            async def split() -> bool:
                owners = list((await lease_owners(first)).values())
                return owners.count(me) == 2 and owners.count(newcomer) == 2

            for _ in range(3000):  # two handed over, their attempts cut after the grace and sent again there
                if len(got) >= 6 and await split() and not first.engine._sharing._hand_overs:  # type: ignore[union-attr]
                    break
                await asyncio.sleep(0.01)
            assert await split(), await lease_owners(first)
            sent = ids(got)
            assert len(sent) == 6 and len(set(sent)) == 4, sent  # the two kept were sent once
            await first.store.writer.barrier()
            for twice in {i for i in sent if sent.count(i) == 2}:  # the cut attempt is on record: it went out
                errors = [a.error or "" for a in (await first.delivery(twice)).attempt_log]
                assert any(e.startswith("interrupted: the sender stopped") for e in errors), errors
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
