"""Holding deliveries back for the `reorder` and `burst` faults, and letting them go in the planned order.

A held delivery passes through one or two gates. A reorder gate is a window of N consecutive deliveries (of one
subscription in one run) that carry `reorder: N`; a burst gate is a group of N that carry `burst: N`. A gate
opens when all its members are committed, or when the run releases everything at its end. A delivery goes once
every gate it is in is open and every held delivery planned before it (window order: the seeded shuffle within
a reorder window) can go too; deliveries let go together are sent in that order, back to back, so a burst
reaches the receiver as a spike. (Without the second rule a reorder window that straddles two bursts let its
members go in two parts, in an order that depended on which commits the writer happened to group.)

Held deliveries are already in the store, so a lane reading the store back (after it spilled) must not take
them: `loaded` hides them until they go, and what goes is handed to the lane, which takes it in its place, after
what it has still to read back (`Lane.force`). After a restart nothing is held any more: they are sent in their
usual order, after what was let go before them and still waited (`_in_order`), never lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from simulator.delivery.job import Job
from simulator.delivery.lane import IN_PLACE

# Deliveries let go together become due this far apart, so the lane sends them in the planned order.
STEP = 1e-6
# How many handed-over ids to remember per subscription: far more than can go while one store read runs.
HANDED_MEMORY = 10000

# Said in the fault record of a delivery whose window or group went before it filled.
CUT_EARLY = "cut short: it went before it filled (its run ended, or its subscription's faults changed)"

HoldKey = tuple[str, str | None]  # (subscription id, run id)
GateKey = tuple[str, str, str | None, int, int]  # (kind, subscription id, run id, size, index)


@dataclass(eq=False)
class Gate:
    key: GateKey
    size: int
    start: int  # arrival position of its first member: where its members are sent
    ranks: list[int] = field(default_factory=list)  # reorder: the sending rank of each position
    members: list[Unit] = field(default_factory=list)
    arrived: int = 0
    forced: bool = False

    @property
    def open(self) -> bool:
        return self.forced or self.arrived >= self.size


@dataclass(eq=False)
class Unit:
    """One held delivery and its duplicate copies, which follow it."""

    job: Job
    copies: list[Job]
    delay: float  # real seconds from release to the first attempt (the `delay` fault)
    spacing: float  # real seconds between copies
    arrival: int
    gates: list[Gate] = field(default_factory=list)
    order: tuple[int, int, int] = (0, 0, 0)  # (window start, rank, arrival): the planned sending order
    committed: bool = False

    @property
    def key(self) -> HoldKey:
        return (self.job.subscription_id, self.job.run_id)

    @property
    def made(self) -> float:
        """When it was due before its delay (and its hold): at speed 0 when it was made, else its event's time."""
        return self.job.due - self.delay


@dataclass(frozen=True)
class Placement:
    """Where a new held delivery landed: its reorder window and position, its burst group."""

    window: int | None
    position: int | None
    rank: int | None
    group: int | None


class Holds:
    def __init__(self) -> None:
        self._gates: dict[GateKey, Gate] = {}
        self._units: dict[str, Unit] = {}  # by the held delivery's id
        self._by_key: dict[HoldKey, dict[str, Unit]] = {}  # the same, by subscription and run
        self._ready: dict[HoldKey, dict[str, Unit]] = {}  # free to go, but behind a unit planned before them
        self._copies: set[str] = set()  # ids of copies held with their unit
        self._counts: dict[tuple[object, ...], int] = {}
        # Let go since the subscription's lane last read the store: a read already under way may still see them.
        # (A lane that never spills never reads, hence the bound.)
        self._handed: dict[str, dict[str, None]] = {}
        self._latest: dict[HoldKey, float] = {}  # the latest `Unit.made` held (a run's times never go back)
        self._last: dict[HoldKey, float] = {}  # the due time (before delays) of the last delivery let go

    def resume(self, run_id: str, placed: Mapping[tuple[str, str, int], int]) -> None:
        """Go on with a run's windows and groups where a stopped process left them (`placed`: how many deliveries
        each (fault, subscription, size) placed there). Counted from zero again, a resumed run's later deliveries
        were shuffled in other windows, with the draws of its first ones: not the faults the same seed gave."""
        for (kind, sub_id, size), count in placed.items():
            key = (kind, sub_id, run_id, size)
            self._counts[key] = max(self._counts.get(key, 0), count)

    def _next(self, *key: object) -> int:
        n = self._counts.get(key, 0)
        self._counts[key] = n + 1
        return n

    def hold(
        self,
        job: Job,
        copies: list[Job],
        *,
        reorder: int,
        burst: int,
        delay: float,
        spacing: float,
        shuffle: Callable[[int, int], list[int]],
    ) -> Placement:
        """Hold `job` (and its copies) for a reorder window of `reorder` and/or a burst of `burst` (0: none).
        `shuffle(size, window)` is the seeded sending order of a new reorder window's positions."""
        key: HoldKey = (job.subscription_id, job.run_id)
        unit = Unit(job, copies, delay, spacing, self._next("arrival", *key))
        unit.order = (unit.arrival, 0, unit.arrival)
        self._latest[key] = max(self._latest.get(key, unit.made), unit.made)
        window = position = rank = group = None
        if reorder:
            count = self._next("reorder", *key, reorder)
            window, position = divmod(count, reorder)
            gate = self._gate(("reorder", *key, reorder, window), reorder, unit.arrival, position)
            if not gate.ranks:
                gate.ranks = [0] * reorder
                for sent, pos in enumerate(shuffle(reorder, window)):
                    gate.ranks[pos] = sent
            rank = gate.ranks[position]
            unit.order = (gate.start, rank, unit.arrival)
            self._join(unit, gate)
        if burst:
            count = self._next("burst", *key, burst)
            group, place = divmod(count, burst)
            self._join(unit, self._gate(("burst", *key, burst, group), burst, unit.arrival, place))
        self._units[job.id] = unit
        self._by_key.setdefault(key, {})[job.id] = unit
        self._copies.update(c.id for c in copies)
        return Placement(window, position, rank, group)

    def _gate(self, key: GateKey, size: int, arrival: int, place: int) -> Gate:
        """The gate `key`, made for a member at `place` in it if it has none: at a place past the first, the members
        before it were placed by a process that stopped (see `resume`), and went in their usual order then."""
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = Gate(key, size, arrival, arrived=place)
        return gate

    @staticmethod
    def _join(unit: Unit, gate: Gate) -> None:
        unit.gates.append(gate)
        gate.members.append(unit)

    def committed(self, jobs: list[Job]) -> tuple[list[Job], list[Job]]:
        """`jobs` just committed that are not held, and the held deliveries whose gates opened now."""
        out: list[Job] = []
        touched: list[Unit] = []
        for job in jobs:
            unit = self._units.get(job.id)
            if unit is not None:
                unit.committed = True
                for gate in unit.gates:
                    gate.arrived += 1
                    if gate.open:
                        touched.extend(gate.members)
            elif job.id not in self._copies:
                out.append(job)
        return out, self._free(touched)

    def loaded(self, subscription_id: str, jobs: list[Job]) -> list[Job]:
        """Of `jobs` a lane read from the store, those it may take: not held, not handed to it meanwhile (a read
        under way may see them let go). What was handed it takes itself, as its reads reach it (`Lane.force`)."""
        handed = self._handed.pop(subscription_id, {})
        if not handed and not self._units:
            return jobs
        return [j for j in jobs if j.id not in self._units and j.id not in self._copies and j.id not in handed]

    def release(self, run_id: str | None, *, ended: bool = True) -> list[Job]:
        """Open every gate of `run_id` (of all runs when None) and let its committed deliveries go. Not `ended`,
        the run goes on in another process, which places its later deliveries in these windows (`resume`): what
        goes here keeps the places the seed drew, not cut short."""
        keys = [k for k in self._gates if run_id is None or k[2] == run_id]
        touched: list[Unit] = []
        for key in keys:
            gate = self._gates.pop(key)
            self._force(gate, cut=ended)
            touched.extend(gate.members)
        self._counts = {k: v for k, v in self._counts.items() if run_id is not None and k[2] != run_id}
        out = self._free(touched)
        for unit in touched:  # never committed (a failed write): nothing was stored, nothing to send
            if not unit.committed:
                self._forget(unit)
        # What waited behind those goes now: nothing is planned before it any more.
        behind = [u for key, units in self._ready.items() if run_id is None or key[1] == run_id for u in units.values()]
        out += self._free(behind)
        for times in (self._latest, self._last):
            for hold_key in [k for k in times if run_id is None or k[1] == run_id]:
                del times[hold_key]
        return out

    def let_go(self, subscription_id: str, sizes: Mapping[str, int]) -> list[Job]:
        """Open the gates of deliveries outside a run (`POST /events`) to `subscription_id` whose size is not the
        subscription's now (`sizes`: by kind, 0 for none), and let their committed deliveries go: drawn under
        faults since changed, no later delivery joins them, and those after them waited behind them for good. A
        run's gates open at its end."""
        keys = [k for k in self._gates if k[1] == subscription_id and k[2] is None and k[3] != sizes.get(k[0], 0)]
        touched: list[Unit] = []
        for key in keys:
            gate = self._gates.pop(key)
            self._force(gate)  # a member not committed yet goes once it is
            touched.extend(gate.members)
        if not touched:
            return []
        return self._free([*touched, *self._ready.get((subscription_id, None), {}).values()])

    @staticmethod
    def _force(gate: Gate, *, cut: bool = True) -> None:
        """Open `gate` now. One not full is cut short, and its members' fault records say so; a reorder window's
        ranks become the order its members go in: drawn for the whole window, a window of 3 recorded ranks 3 and
        4, places it never had. (The new records are written as the deliveries are let go: `Job.extra`.)"""
        if cut and not gate.open:
            kind = gate.key[0]
            for rank, unit in enumerate(sorted(gate.members, key=lambda u: u.order)):
                record = (unit.job.faults or {}).get(kind)
                if isinstance(record, dict):
                    record["cut"] = CUT_EARLY
                    if kind == "reorder":
                        record["rank"] = rank
                    unit.job.extra["faults_changed"] = True
        gate.forced = True

    def forget(self, subscription_id: str) -> None:
        """Drop everything held for a removed subscription."""
        for key in [k for k in self._gates if k[1] == subscription_id]:
            gate = self._gates.pop(key, None)  # None: emptied with a unit of an earlier gate
            for unit in list(gate.members) if gate else ():
                self._forget(unit)
        self._counts = {k: v for k, v in self._counts.items() if k[1] != subscription_id}
        self._latest = {k: v for k, v in self._latest.items() if k[0] != subscription_id}
        self._last = {k: v for k, v in self._last.items() if k[0] != subscription_id}
        self._handed.pop(subscription_id, None)
        for waiting in [k for k in self._ready if k[0] == subscription_id]:
            for unit in list(self._ready.pop(waiting).values()):
                self._forget(unit)

    def _free(self, candidates: Iterable[Unit]) -> list[Job]:
        ready: dict[HoldKey, dict[str, Unit]] = {}
        for u in candidates:
            if u.committed and u.job.id in self._units and all(g.open for g in u.gates):
                ready.setdefault(u.key, {})[u.job.id] = u
        out: list[Job] = []
        now = time.time()
        for key, units in ready.items():
            pool = {**self._ready.pop(key, {}), **units}
            # The first held unit planned before any of these that cannot go yet holds back all after it.
            blocker = min((u.order for u in self._by_key.get(key, {}).values() if u.job.id not in pool), default=None)
            going: list[Unit] = []
            for unit in pool.values():
                if blocker is None or unit.order < blocker:
                    going.append(unit)
                else:
                    self._ready.setdefault(key, {})[unit.job.id] = unit
            if going:
                out.extend(self._in_order(key, sorted(going, key=lambda u: u.order), now))
        for job in out:
            handed = self._handed.setdefault(job.subscription_id, {})
            handed[job.id] = None
            if len(handed) > HANDED_MEMORY:
                del handed[next(iter(handed))]
        return out

    def _in_order(self, key: HoldKey, going: list[Unit], now: float) -> list[Job]:
        """The jobs of `going` (in their planned order), due one STEP apart, each copy after its original.

        Due as they go, but never after a delivery planned after them: one still held, or one made later (a run's
        times never go back). A window a stop cuts short keeps the times its deliveries were made, and the next
        process sends them in their usual order, the earliest due first: due when let go, the windows let go before
        them and still waiting were due later, and went after them. At speed 0 everything is due at once, so only
        the order changes. Never before what went last either, which its lane may still hold."""
        ids = {unit.job.id for unit in going}
        later = [unit.made for unit in self._by_key.get(key, {}).values() if unit.job.id not in ids]
        start = min(now, min(later, default=self._latest.get(key, now)) - len(going) * STEP)
        if key in self._last:
            start = max(start, self._last[key] + STEP)
        self._last[key] = start + (len(going) - 1) * STEP
        out: list[Job] = []
        for i, unit in enumerate(going):
            unit.job.due = start + i * STEP + unit.delay
            out.append(unit.job)
            for k, copy in enumerate(unit.copies, 1):
                copy.due = unit.job.due + k * unit.spacing
                out.append(copy)
            self._forget(unit)
        for job in out:
            job.extra[IN_PLACE] = True
        return out

    def _forget(self, unit: Unit) -> None:
        if self._units.pop(unit.job.id, None) is None:
            return
        for index in (self._by_key, self._ready):
            held = index.get(unit.key)
            if held is not None:
                held.pop(unit.job.id, None)
                if not held:
                    del index[unit.key]
        self._copies.difference_update(c.id for c in unit.copies)
        for gate in unit.gates:
            gate.members.remove(unit)
            if gate.open and not gate.members:  # full (or forced) and empty: no member will ever join
                self._gates.pop(gate.key, None)

    def holding(self, job_id: str) -> bool:
        """Whether the delivery `job_id` (or a copy held with one) waits for a gate."""
        return job_id in self._units or job_id in self._copies

    def __len__(self) -> int:
        return len(self._units)
