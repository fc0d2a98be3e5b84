"""A delivery while the engine holds it in memory: mutable, and written back to the store at each change."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from simulator.models import Event
from simulator.store.codec import dumps
from simulator.timeutil import parse_time

# A duplicate copy (the `duplicate` fault) is stored as its own row, `<message id>~dup<k>`, and sent as the message.
COPY_MARK = "~dup"


def place(event: Event) -> str:
    """What a delivery's seeded draws (faults, retry jitter) key an event on: a run's event by its type and place
    in the run, which a replay repeats whatever its start time (its ids change with it); an ad-hoc one by its id."""
    return f"{event.type}#{event.seq}" if event.run_id is not None else event.id


@dataclass(slots=True, eq=False)
class Job:
    id: str
    n: int
    subscription_id: str
    run_id: str | None
    events: list[Event]
    envelope_id: str
    speed: float
    due: float
    attempts: int = 0
    retries: int = 0
    sim_offset: float = 0.0
    status: str = "pending"
    last_status: int | None = None
    last_error: str | None = None
    faults: dict[str, Any] | None = None
    finished_at: float | None = None
    held_by: str | None = None  # the process holding it back (an open batch, a reorder or burst fault)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return self.events[0].type

    @property
    def message_id(self) -> str:
        """The id the receiver sees (`webhook-id`, the JWT `jti`): a duplicate copy's is its original's."""
        return self.id.partition(COPY_MARK)[0]

    @property
    def draws_key(self) -> str:
        """Its events' places, and a duplicate copy's mark: the same in every replay of its run."""
        return ",".join(place(e) for e in self.events) + self.id[len(self.message_id) :]

    def _state(self) -> dict[str, Any]:
        """The columns that change as the delivery is attempted."""
        return {
            "status": self.status,
            "attempts": self.attempts,
            "retries": self.retries,
            "sim_offset": self.sim_offset,
            "next_attempt_at": self.due,
            "finished_at": self.finished_at,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "faults": dumps(self.faults) if self.faults else None,
            "held_by": self.held_by,
        }

    def update_row(self) -> dict[str, Any]:
        return {"_id": self.id, **self._state()}

    def insert_row(self, event_keys: list[str], created_at: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "n": self.n,
            "subscription_id": self.subscription_id,
            "run_id": self.run_id,
            "event_keys": dumps(event_keys),
            "event_ids": dumps([e.id for e in self.events]),
            "type": self.type,
            "envelope_id": self.envelope_id,
            "speed": self.speed,
            "created_at": created_at,
            "listed": self.n,
            "types": _types(self.events),
            **self._state(),
        }

    def rewrite_row(self, event_keys: list[str]) -> dict[str, Any]:
        """Every column but the id, the creation time and the list's place: an open batch's row as it stands
        now (a closed batch goes after everything made so far, and stays where it was listed)."""
        row = self.insert_row(event_keys, 0.0)
        row["_id"] = row.pop("id")
        del row["created_at"], row["listed"]
        return row


def _types(events: list[Event]) -> str | None:
    """The `types` column: every type its events have, each between spaces, when they are more than one."""
    if len(events) == 1:
        return None
    types = list(dict.fromkeys(e.type for e in events))
    return f" {' '.join(types)} " if len(types) > 1 else None


def event_row(event: Event, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "id": event.id,
        "run_id": event.run_id,
        "seq": event.seq,
        "provider": event.provider,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "envelope_id": event.envelope_id,
        "body": event.json,
        "ends_with": event.ends_with,
    }


def event_from_row(row: Any) -> Event:
    return Event(
        id=row.id,
        provider=row.provider,
        type=row.type,
        occurred_at=parse_time(row.occurred_at),
        data=None,  # parsed only if a fault that changes the body asks for it
        json=row.body,
        envelope_id=row.envelope_id,
        seq=row.seq,
        run_id=row.run_id,
        ends_with=row.ends_with,
    )


def job_from_row(row: Any, events: list[Event]) -> Job:
    return Job(
        id=row.id,
        n=row.n,
        subscription_id=row.subscription_id,
        run_id=row.run_id,
        events=events,
        envelope_id=row.envelope_id,
        speed=row.speed,
        due=row.next_attempt_at,
        attempts=row.attempts,
        retries=row.retries,
        sim_offset=row.sim_offset,
        status=row.status,
        last_status=row.last_status,
        last_error=row.last_error,
        faults=json.loads(row.faults) if row.faults else None,
    )
