"""The Syncfy API twin of one simulator: its backend (state and reads), its credential lifecycles and its
account side (users, sessions, webhooks), made together on first use."""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.core.syncfy_admin import Accounts
from simulator.core.syncfy_api import SyncfyBackend
from simulator.core.syncfy_flows import CredentialFlows
from simulator.core.syncfy_steps import WAITING_STEP
from simulator.store.syncfy_twin import SyncfyTwinStore

if TYPE_CHECKING:
    from simulator.core.simulator import Simulator

log = logging.getLogger("webhook_sim.twins")
ADOPT_EVERY = 2.0  # seconds: how often a server on a shared store looks for credential jobs whose server stopped


@dataclass(frozen=True)
class SyncfyTwin:
    backend: SyncfyBackend
    flows: CredentialFlows
    accounts: Accounts


_TWINS: weakref.WeakKeyDictionary[Simulator, SyncfyTwin] = weakref.WeakKeyDictionary()


def twin(sim: Simulator) -> SyncfyTwin:
    """The simulator's Syncfy twin (made on first use; it then indexes every Syncfy event published)."""
    found = _TWINS.get(sim)
    if found is None:
        backend = SyncfyBackend(sim)
        found = _TWINS[sim] = SyncfyTwin(backend, CredentialFlows(backend), Accounts(backend))
    return found


async def resume_unfinished(sim: Simulator) -> None:
    """At start-up: go on with the credential jobs an earlier process left under way, as Syncfy's own jobs do,
    whether or not anyone calls the twin. A store with none does not make the twin (nor its index of events). On
    a shared store, only those no live process plays."""
    shared = sim.engine.leases is not None
    if await SyncfyTwinStore(sim.store).adoptable_credentials(WAITING_STEP, shared=shared):
        await twin(sim).flows.resume()


async def adopt_orphans(sim: Simulator) -> None:
    """For as long as a server on a shared store runs: go on with the credential jobs whose server stopped (it
    left, or its beat lapsed), as a server starting up does with those an earlier one left."""
    while True:
        await asyncio.sleep(ADOPT_EVERY)
        try:
            if await SyncfyTwinStore(sim.store).adoptable_credentials(WAITING_STEP, shared=True):
                await twin(sim).flows.adopt()
        except Exception as exc:  # the store restarting, say: the next look tries again
            log.warning("cannot look for credential jobs whose server stopped (%s): trying again", exc)
