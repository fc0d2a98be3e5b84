"""Basis Theory: tokenization / PCI vault events.

Envelope: `{"event": {"id", "type", "timestamp", "tenant_id", "trace_id", "data": {...}}, "delivered_at"}`,
one event per POST, serialised compact in the documents' field order. `BT-SIGNATURE` covers the body as Basis
Theory's sample verifier re-serialises it (`json-stable-stringify`), not these bytes, as at Basis Theory: a
consumer that verifies the raw body fails here as it would there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from simulator.models import BuildContext, Event, RetryPolicy
from simulator.providers.base import EventType, Provider, compact_json, new_event
from simulator.providers.basistheory import _common
from simulator.providers.basistheory import _values as v
from simulator.timeutil import iso_ms


class BasisTheoryProvider(Provider):
    name: ClassVar[str] = "basistheory"
    title: ClassVar[str] = "Basis Theory"
    native_signing: ClassVar[str] = "basistheory"
    # 10 retries, exponential, about 2.5 hours in all (as Basis Theory's reactor callbacks were retried).
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy.exponential(8.8, 10)
    max_batch: ClassVar[int] = 1
    event_path: ClassVar[tuple[str, ...]] = ("event",)
    ends: ClassVar[Mapping[str, tuple[str, ...]]] = {"token.created": ("token.expired",)}

    def param_problems(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """`token_type`, which the token builders read: a type they do not know failed the run only when its first
        token was built, after `POST /runs` (or a schedule's creation) had answered."""
        given = params.get("token_type")
        if given and given not in v.TOKEN_SHAPES:
            return [("token_type", f"unknown token type {given!r}; known: {', '.join(v.TOKEN_TYPES)}")]
        return []

    def finish(self, etype: EventType, data: dict[str, Any], ctx: BuildContext) -> Event:
        return new_event(
            data["id"],
            self.name,
            etype.name,
            ctx.now,
            data,
            # allow_nan=False: JSON.parse rejects NaN and Infinity, so no body may carry them.
            compact_json(data, ensure_ascii=False, allow_nan=False),
        )

    def absorb(self, data: dict[str, Any], path: str, value: Any, ctx: BuildContext) -> None:
        _common.absorb(ctx, data, path, value)

    def follow(self, before: dict[str, Any], after: dict[str, Any], overrides: Mapping[str, Any]) -> None:
        """Nothing follows: a Basis Theory event carries no URL or copy of another of its fields."""

    def render(self, events: Sequence[Event], envelope_id: str, delivered_at: datetime) -> bytes:
        if len(events) != 1:
            raise ValueError("a Basis Theory webhook carries exactly one event")
        # The documented order: the event, then when this attempt delivered it.
        return f'{{"event":{events[0].json},"delivered_at":"{iso_ms(delivered_at)}"}}'.encode()


PROVIDER = BasisTheoryProvider()
