"""Basis Theory: tokenization / PCI vault events.

Envelope: `{"event": {"id", "type", "timestamp", "tenant_id", "trace_id", "data": {...}}, "delivered_at"}`,
one event per POST, serialised compact with keys sorted recursively (what `BT-SIGNATURE` signs), so both
raw-body and re-serialising verifiers pass.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from simulator.models import BuildContext, Event, RetryPolicy
from simulator.providers.base import EventType, Provider
from simulator.timeutil import iso_ms


class BasisTheoryProvider(Provider):
    name: ClassVar[str] = "basistheory"
    title: ClassVar[str] = "Basis Theory"
    native_signing: ClassVar[str] = "basistheory"
    # 10 retries, exponential, about 2.5 hours in all (as Basis Theory's reactor callbacks were retried).
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy.exponential(8.8, 10)
    max_batch: ClassVar[int] = 1

    def finish(self, etype: EventType, data: dict[str, Any], ctx: BuildContext) -> Event:
        return Event(
            id=data["id"],
            provider=self.name,
            type=etype.name,
            occurred_at=ctx.now,
            data=data,
            json=json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False),
        )

    def render(self, events: Sequence[Event], envelope_id: str, delivered_at: datetime) -> bytes:
        if len(events) != 1:
            raise ValueError("a Basis Theory webhook carries exactly one event")
        # Keys sorted: "delivered_at" < "event".
        return f'{{"delivered_at":"{iso_ms(delivered_at)}","event":{events[0].json}}}'.encode()


PROVIDER = BasisTheoryProvider()
