"""What a Syncfy V1 webhook is sent: Syncfy's V1 notification, a flat body, where the subscription behind it
receives the V3 envelope.

A V1 webhook is a subscription the twin's `POST /v1/webhooks` made; its table (`syncfy_webhooks`) names them, so
this holds on every process sending for the store, and after a restart, whether or not the twin was called. The
engine asks it for each attempt's body (`DeliveryEngine.body_forms`): for one `credentials.created`, `.updated` or
`.refreshed` event it answers the V3 payload, keys sorted (`api.v1_notification`); the headers are the
subscription's as before. Documents events, for which Syncfy documents no V1 body, and a batch of several events
(a `batch` set through the control API; V1 has none) keep the V3 envelope.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from simulator.models import Event, Subscription
from simulator.providers.syncfy import api
from simulator.providers.syncfy.api_readable import readable
from simulator.store import Store
from simulator.store.syncfy_twin import SyncfyTwinStore


class V1Bodies:
    def __init__(self, store: Store) -> None:
        self.tables = SyncfyTwinStore(store, readable)
        # Subscription id -> whether it is a V1 webhook's. A webhook's subscription is made disabled and enabled
        # only once its row is written (`Accounts.create_webhook`), so no attempt is made before the row can be
        # read, and an answer once known holds for the subscription's life.
        self._known: dict[str, bool] = {}

    async def body(self, sub: Subscription, events: Sequence[Event], rendered: bytes) -> bytes | None:
        if len(events) != 1 or events[0].provider != "syncfy" or events[0].type not in api.V1_NOTIFIED:
            return None
        if not await self._is_v1(sub.id):
            return None
        # From the event's JSON: the bytes the V3 envelope carries, so both bodies say the same.
        return api.v1_notification(json.loads(events[0].json))

    async def _is_v1(self, sub_id: str) -> bool:
        known = self._known.get(sub_id)
        if known is None:
            webhooks = {row["subscription_id"] for row in await self.tables.webhooks()}
            known = self._known[sub_id] = sub_id in webhooks
        return known
