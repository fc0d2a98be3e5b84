"""Rows made many to a turn of the event loop, given to the writer as one change at the turn's end.

At speed 0 a run publishes dozens of events in one turn, and a lane records as many attempts. Each row given as a
change of its own cost the change, its place in the writer's queue, its part of the batch and (for a delivery) a
callback once committed: about a tenth of a delivery's time on the event loop. Gathered, the rows of one turn are
one change. Nothing waits on them meanwhile: a delivery is sent only once committed, and what reads the store
waits on the writer's barrier, which gives the writer what is gathered first (`Writer.before_barrier`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from simulator.delivery.job import Job
from simulator.delivery.lane import Lane
from simulator.store.writer import Op, Writer

Row = tuple[Job, list[str], bool]  # a delivery, its events' store keys, and whether its row is new

# Events of a run at speed 0 given to the writer together at most.
CHUNK = 64


class Chunk:
    """A run at speed 0's events and deliveries not yet given to the writer, and the lanes whose window counts
    those deliveries already (a run waits for room by that count)."""

    def __init__(self, write: Callable[[], None]) -> None:
        self._write = write
        self.send: list[Row] = []
        self.events: list[dict[str, Any]] = []
        self.lanes: list[Lane] = []
        self._call: asyncio.Handle | None = None

    def add(self, send: list[Row], event: dict[str, Any], lanes: list[Lane]) -> bool:
        """Gather an event, its deliveries and the lanes that count them; True once CHUNK events are in (the caller
        writes them now)."""
        self.send.extend(send)
        self.events.append(event)
        self.lanes.extend(lanes)
        if len(self.events) >= CHUNK:
            return True
        if self._call is None:
            self._call = asyncio.get_running_loop().call_soon(self._write)
        return False

    def take(self) -> tuple[list[Row], tuple[dict[str, Any], ...], list[Lane]] | None:
        """What is gathered, and an empty chunk in its place; None when nothing is."""
        if self._call is not None:
            self._call.cancel()
            self._call = None
        if not self.events:
            return None
        taken = self.send, tuple(self.events), self.lanes
        self.send, self.events, self.lanes = [], [], []
        return taken


class Records:
    """Attempt records and the status changes they make, given to `writer` once a turn (on a store of one
    process, where nothing waits for them: a restart sends again what has no record)."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._attempts: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._timed = False
        self._call: asyncio.Handle | None = None

    def add(self, attempt: dict[str, Any], update: dict[str, Any], timed: bool) -> None:
        self._attempts.append(attempt)
        self._updates.append(update)
        self._timed = self._timed or timed
        if self._call is None:
            self._call = asyncio.get_running_loop().call_soon(self.write)

    def write(self) -> None:
        """Give the writer what is gathered (a change to the same deliveries made after calls this first)."""
        if self._call is not None:
            self._call.cancel()
            self._call = None
        if not self._attempts:
            return
        op = Op(attempts=tuple(self._attempts), updates=tuple(self._updates), patient=True, timed=self._timed)
        self._attempts, self._updates, self._timed = [], [], False
        self._writer.put_nowait(op)
