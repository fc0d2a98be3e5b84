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
    assert gate.held("basistheory", "run/1") and gate.first("basistheory") == "run/1"
    gate.started("msg_b")
    assert not gate.held("basistheory", "run/1")
    assert gate.first("basistheory") == "run/2"
    gate.started("msg_a")  # its event already shows: nothing changes
    gate.started("msg_c")
    assert gate.first("basistheory") is None and not gate.held("basistheory", "run/2")


def test_providers_are_held_apart_and_an_event_no_delivery_carries_is_not_held(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("syncfy", "run/1", ["msg_a"])
    gate.hold("basistheory", "other/1", [])
    assert gate.first("basistheory") is None and not gate.held("basistheory", "other/1")
    assert gate.first("syncfy") == "run/1" and not gate.held("basistheory", "run/1")


def test_nothing_is_held_longer_than_the_bound(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("syncfy", "run/1", ["msg_never_started"])
    clock[0] += HOLD_AT_MOST - 1
    gate.hold("syncfy", "run/2", ["msg_b"])
    assert gate.first("syncfy") == "run/1"
    clock[0] += 2
    assert not gate.held("syncfy", "run/1")
    assert gate.first("syncfy") == "run/2"


def test_forget_shows_everything(clock: list[float]) -> None:
    gate = Gate()
    gate.hold("syncfy", "run/1", ["msg_a"])
    gate.forget()
    assert gate.first("syncfy") is None and not gate.held("syncfy", "run/1")
