"""The Syncfy API twin of one simulator: its backend (state and reads), its credential lifecycles and its
account side (users, sessions, webhooks), made together on first use."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.core.syncfy_admin import Accounts
from simulator.core.syncfy_api import SyncfyBackend
from simulator.core.syncfy_flows import WAITING_STEP, CredentialFlows
from simulator.store.syncfy_twin import SyncfyTwinStore

if TYPE_CHECKING:
    from simulator.core.simulator import Simulator


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
    whether or not anyone calls the twin. A store with none does not make the twin (nor its index of events)."""
    rows = await SyncfyTwinStore(sim.store).unfinished_credentials()
    if any(row["step"] != WAITING_STEP and row["dt_disable"] is None for row in rows):
        await twin(sim).flows.resume()
