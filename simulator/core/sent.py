"""What each attempt sent. The store keeps a body no fault changed as the fact that it was the provider's envelope
as rendered (the events table holds each event once); this renders it again from the delivery's stored events,
byte for byte what the provider's `render` gave at the attempt (the envelope's id and the attempt's stored
`delivered_at` are its only other inputs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from simulator import catalog
from simulator.delivery.job import event_from_row
from simulator.models import Attempt, Delivery, Event
from simulator.providers.base import Provider
from simulator.store import Store
from simulator.timeutil import parse_time


async def with_bodies(store: Store, delivery: Delivery) -> Delivery:
    """`delivery` with the request body of each attempt filled in where the store kept it as rendered."""
    if not any(a.request is not None and a.request.body is None for a in delivery.attempt_log):
        return delivery
    page = await store.outbox_rows([delivery.id])
    if not page or not page[0][1]:
        return delivery  # its events are gone: the bodies stay unknown (null) rather than made up
    row, event_rows = page[0]
    events = [event_from_row(e) for e in event_rows]
    provider = catalog.get_provider(events[0].provider)
    log = tuple(_rendered(a, provider, events, row.envelope_id) for a in delivery.attempt_log)
    return replace(delivery, attempt_log=log)


def _rendered(attempt: Attempt, provider: Provider, events: Sequence[Event], envelope_id: str | None) -> Attempt:
    request = attempt.request
    if request is None or request.body is not None or attempt.delivered_at is None:
        return attempt
    try:
        body = provider.render(events, envelope_id or "", parse_time(attempt.delivered_at))
    except ValueError:  # events that no longer make one envelope (a batch's provider rules changed)
        return attempt
    return replace(attempt, request=replace(request, body=body))
