"""The gate that keeps the events of a run at speed 0 from the API twins until one of their deliveries starts."""

from __future__ import annotations

import pytest

from simulator.delivery import gate as gate_module
from simulator.delivery.gate import HOLD_AT_MOST, Gate


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(gate_module.time, "monotonic", lambda: now[0])
    return now


def test_an_event_shows_once_any_delivery_carrying_it_starts(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("basistheory", "run/1", ["msg_a", "msg_b"])
    gate.hold("basistheory", "run/2", ["msg_c"])
    assert gate.held("basistheory", "run/1") and gate.firsts("basistheory") == ["run/1"]
    gate.started("msg_b")
    assert not gate.held("basistheory", "run/1")
    assert gate.firsts("basistheory") == ["run/2"]
    gate.started("msg_a")  # its event already shows: nothing changes
    gate.started("msg_c")
    assert gate.firsts("basistheory") == [] and not gate.held("basistheory", "run/2")


def test_providers_are_held_apart_and_an_event_no_delivery_carries_is_not_held(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("syncfy", "run/1", ["msg_a"])
    gate.hold("basistheory", "other/1", [])
    assert gate.firsts("basistheory") == [] and not gate.held("basistheory", "other/1")
    assert gate.firsts("syncfy") == ["run/1"] and not gate.held("basistheory", "run/1")


def test_nothing_is_held_longer_than_the_bound(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("syncfy", "run/1", ["msg_never_started"])
    clock[0] += HOLD_AT_MOST - 1
    gate.hold("syncfy", "run/2", ["msg_b"])
    assert gate.firsts("syncfy") == ["run/1"]
    clock[0] += 2
    assert not gate.held("syncfy", "run/1")
    assert gate.firsts("syncfy") == ["run/2"]


def test_forget_shows_everything(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("syncfy", "run/1", ["msg_a"])
    gate.forget()
    assert gate.firsts("syncfy") == [] and not gate.held("syncfy", "run/1")


def test_an_event_no_delivery_starts_shows_once_the_one_before_it_is_answered(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("basistheory", "run/1", ["msg_a"])
    gate.hold("basistheory", "run/2", [])  # its delivery dropped by a fault
    gate.hold("basistheory", "run/3", [])  # and the next one's too
    gate.hold("basistheory", "run/4", ["msg_d"])
    gate.started("msg_a")
    assert not gate.held("basistheory", "run/1")
    assert gate.held("basistheory", "run/2") and gate.firsts("basistheory") == ["run/2"]  # msg_a not answered
    gate.answered("msg_a")
    assert not gate.held("basistheory", "run/2") and not gate.held("basistheory", "run/3")
    assert gate.firsts("basistheory") == ["run/4"]


def test_a_dropped_event_with_nothing_held_before_it_is_not_held(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("syncfy", "run/1", [])
    assert gate.firsts("syncfy") == []


def test_each_run_is_held_on_its_own(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("basistheory", "a/1", ["msg_a1"])
    gate.hold("basistheory", "b/1", ["msg_b1"])
    gate.hold("basistheory", "a/2", [])  # dropped: behind a/1, not behind b/1
    gate.hold("basistheory", "b/2", ["msg_b2"])
    assert gate.firsts("basistheory") == ["a/1", "b/1"]
    gate.started("msg_b1")
    gate.answered("msg_b1")
    assert gate.held("basistheory", "a/2")  # its own run's event before it has not been sent
    gate.started("msg_a1")
    gate.answered("msg_a1")
    assert not gate.held("basistheory", "a/2") and gate.firsts("basistheory") == ["b/2"]


def test_an_event_sent_shows_its_runs_events_before_it(clock: list[float]) -> None:
    """Several in flight: the run's next event starts before the one before a dropped event is answered."""
    gate = Gate()
    gate.hold("syncfy", "run/1", ["msg_a"])
    gate.hold("syncfy", "run/2", [])  # dropped: its turn is once msg_a is answered
    gate.hold("syncfy", "run/3", ["msg_c"])
    gate.hold("syncfy", "other/1", ["msg_x"])
    gate.started("msg_a")
    gate.started("msg_c")  # msg_a has no answer yet
    assert not gate.held("syncfy", "run/2") and not gate.held("syncfy", "run/3")
    assert gate.firsts("syncfy") == ["other/1"]


class _Reference:
    """The gate's rules written plainly (a walk of every held event per start), to hold the gate to."""

    def __init__(self) -> None:
        self.held: dict[str, float] = {}
        self.carried: dict[str, list[str]] = {}
        self.after: dict[str, list[str]] = {}
        self.answering: dict[str, list[str]] = {}
        self.last: dict[str, str] = {}

    def hold(self, key: str, deliveries: list[str], now: float) -> None:
        run = key.rpartition("/")[0]
        if not deliveries:
            before = self.last.get(run)
            if before is not None and before in self.held:
                self.after.setdefault(before, []).append(key)
                self.held[key], self.last[run] = now + HOLD_AT_MOST, key
            return
        self.held[key], self.last[run] = now + HOLD_AT_MOST, key
        for delivery_id in deliveries:
            self.carried.setdefault(delivery_id, []).append(key)

    def started(self, delivery_id: str) -> None:
        for key in self.carried.pop(delivery_id, []):
            if key not in self.held:
                continue
            run = key.rpartition("/")[0]
            for earlier in list(self.held):
                if earlier == key:
                    break
                if earlier.rpartition("/")[0] == run:
                    del self.held[earlier]
            del self.held[key]
            self.answering.setdefault(delivery_id, []).extend(self.after.pop(key, []))

    def answered(self, delivery_id: str) -> None:
        keys = self.answering.pop(delivery_id, [])
        while keys:
            key = keys.pop()
            self.held.pop(key, None)
            keys.extend(self.after.pop(key, ()))

    def firsts(self, now: float) -> set[str]:
        self.held = {key: deadline for key, deadline in self.held.items() if deadline > now}
        firsts: dict[str, str] = {}
        for key in self.held:
            firsts.setdefault(key.rpartition("/")[0], key)
        return set(firsts.values())


@pytest.mark.parametrize("seed", range(20))
def test_the_gate_keeps_its_rules_over_long_interleaved_runs(clock: list[float], seed: int) -> None:
    """Runs of hundreds of events, several in flight, some dropped, some started out of order, some never (held
    past the bound): what the gate holds is what the plain rules hold, at every step."""
    import random

    rng = random.Random(seed)
    gate, reference = Gate(), _Reference()
    runs = {run: 0 for run in ("run_a", "run_b", "run_c")}
    unstarted: list[str] = []
    unanswered: list[str] = []
    keys: list[str] = []
    for step in range(1500):
        action = rng.random()
        if action < 0.45:
            run = rng.choice(list(runs))
            runs[run] += 1
            key = f"{run}/{runs[run]}"
            keys.append(key)
            deliveries = [] if rng.random() < 0.15 else [f"msg_{step}_{i}" for i in range(rng.choice((1, 1, 2)))]
            gate.hold("syncfy", key, deliveries)
            reference.hold(key, deliveries, clock[0])
            unstarted.extend(deliveries)
        elif action < 0.8 and unstarted:
            # Mostly the oldest first (a lane's order), sometimes a later one (several in flight, a reorder).
            delivery_id = unstarted.pop(0 if rng.random() < 0.8 else rng.randrange(len(unstarted)))
            gate.started(delivery_id)
            reference.started(delivery_id)
            unanswered.append(delivery_id)
        elif action < 0.95 and unanswered:
            delivery_id = unanswered.pop(rng.randrange(len(unanswered)))
            gate.answered(delivery_id)
            reference.answered(delivery_id)
        else:
            clock[0] += rng.choice((0.5, 5.0, HOLD_AT_MOST / 3))
        if step % 25 == 0:
            assert set(gate.firsts("syncfy")) == reference.firsts(clock[0]), step
        now_held = {key for key in keys if gate.held("syncfy", key)}
        assert now_held == {key for key in keys if reference.held.get(key, 0) > clock[0]}, step
