"""Syncfy (formerly Paybook Sync API) Webhooks V3: open-banking credential and document events.

Envelope: `{"events": [{"header": {...}, "payload": {...}}, ...], "rid": <uuid4>}`; one POST may carry several
events. Native signature: `request-signature`, an HS256 JWT (see `simulator.signing`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from simulator.errors import InvalidInput
from simulator.models import BuildContext, Event, RetryPolicy
from simulator.providers.base import EventType, Provider, compact_json, new_event
from simulator.providers.syncfy import _common, _values


class SyncfyProvider(Provider):
    name: ClassVar[str] = "syncfy"
    title: ClassVar[str] = "Syncfy"
    native_signing: ClassVar[str] = "syncfy"
    # Syncfy publishes no retry schedule; this is the Svix-style one (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy((5, 300, 1800, 7200, 18000, 36000, 36000))
    max_batch: ClassVar[int] = 100
    event_path: ClassVar[tuple[str, ...]] = ("events", "0")
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = _values.CHOICES
    # A documents job has finished when it reports documents.completed, with or without errors; the outcome
    # that follows says which, and the twin shows its documents as they ended from completed on.
    ends: ClassVar[Mapping[str, tuple[str, ...]]] = {"documents.completed": ("documents.success", "documents.failed")}

    def finish(self, etype: EventType, data: dict[str, Any], ctx: BuildContext) -> Event:
        rid = ctx.world.ids.uuid4(f"rid:{etype.name}")
        return new_event(
            data["header"]["event"]["eid"],
            self.name,
            etype.name,
            ctx.now,
            data,
            compact_json(data, ensure_ascii=True),
            rid,
        )

    def absorb(self, data: dict[str, Any], path: str, value: Any, ctx: BuildContext) -> None:
        _common.absorb(ctx, data, path, value)

    def follow(self, before: dict[str, Any], after: dict[str, Any], overrides: Mapping[str, Any]) -> None:
        _common.follow(before, after, overrides)

    def param_problems(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """`environment` and `institution`, which the builders read: a name they do not know failed the run only
        when its first event was built, after `POST /runs` had answered 202."""
        problems = []
        for read in (_values.environment, _values.institution):
            try:
                read(dict(params))
            except InvalidInput as exc:
                problems += [(e.field.removeprefix("params."), e.message) for e in exc.errors]
        return problems

    def render(self, events: Sequence[Event], envelope_id: str, delivered_at: datetime) -> bytes:
        # Key order as in Syncfy's examples: a credential's notices give `events` first, then `rid`; the
        # documents notices (`documents.*`) give `rid` first.
        inner = ",".join(e.json for e in events)
        if events[0].type.startswith("documents."):
            return f'{{"rid":"{envelope_id}","events":[{inner}]}}'.encode()
        return f'{{"events":[{inner}],"rid":"{envelope_id}"}}'.encode()

    def earlier_render(self, events: Sequence[Event], envelope_id: str) -> bytes | None:
        """The envelope as releases before the documents notices gave `rid` first rendered it, `events` first; None
        where `render` still gives it so (a credential's notices). Such a release's store keeps an attempt as
        "rendered", so these are the bytes it sent where its signature says so (see `simulator.core.sent`)."""
        if not events[0].type.startswith("documents."):
            return None
        # Spelled apart from `render`'s, which runs on every attempt, so that it stays as it was.
        inner = ",".join(e.json for e in events)
        return f'{{"events":[{inner}],"rid":"{envelope_id}"}}'.encode()


PROVIDER = SyncfyProvider()
