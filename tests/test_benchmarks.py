"""The benchmarks take stages away by patching the simulator's own names; a name that moved would make them fail
(or, for the profile, print 0 % for a stage) long after the change, where nobody runs them."""

from __future__ import annotations

import ast
from contextlib import ExitStack
from pathlib import Path

import pytest

from benchmarks import budget, profile_delivery

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("label,free", budget.STAGES, ids=[label for label, _ in budget.STAGES])
def test_every_stage_the_budget_takes_away_names_what_the_simulator_has(label: str, free: object) -> None:
    with ExitStack() as stack:
        stack.enter_context(free())  # type: ignore[operator]  # patch.object refuses a missing attribute


@pytest.mark.parametrize("label", list(profile_delivery.STAGES))
def test_every_function_the_profile_reads_is_defined_where_it_looks(label: str) -> None:
    path, name = profile_delivery.STAGES[label]
    tree = ast.parse((ROOT / path).read_text())
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    assert name in defined, f"{label}: no function {name} in {path}"


def test_the_sqlite_floor_writes_every_row_a_delivery_writes() -> None:
    # It imports the writer's statements from where they are defined, and writes real rows through them.
    floor = budget.sqlite_floor(rows=1000)
    assert list(floor) == ["events", "deliveries", "attempts", "status updates"]
    assert all(us > 0 for us in floor.values())


def test_the_writer_benchmark_times_the_store_thread_and_samples_the_lanes() -> None:
    # It wraps aiosqlite's private `_execute` and reads the lanes' private state: a rename must fail here.
    from benchmarks import writer
    from benchmarks.harness import fast_receiver

    with fast_receiver() as (url, _):
        result = writer.measure_run(url, 400)
    assert result["calls"] > 0
    assert 0 < result["store_busy"] <= 1
    assert abs(result["cpu"] + result["core_wait"] + result["blocked"] - 1) < 0.01 or result["blocked"] == 0
    assert result["samples"] > 0 and 0 <= result["lanes_idle"] <= 1


def test_the_cpu_benchmark_runs_without_the_store() -> None:
    # It replaces the store's row writer with one that writes nothing: a change to the writer's signature must
    # fail here, not in a measurement nobody runs in CI.
    from benchmarks import cpu
    from benchmarks.harness import fast_receiver

    with fast_receiver() as (url, _):
        result = cpu.measure(url, 300, store=False)
    assert result["rate"] > 0 and result["loop thread"] > 0


def test_the_sending_benchmark_holds_every_post_until_the_run_is_written_then_sends_them_all() -> None:
    # It replaces the engine's sender's `post` and raises the lanes' window: a rename must fail here, and every
    # delivery must still succeed once let go (the benchmark checks the run's counts).
    from unittest.mock import patch

    from benchmarks import sending
    from benchmarks.harness import fast_receiver
    from simulator.delivery import lane
    from simulator.runtime import run_loop

    with fast_receiver() as (url, _), patch.object(lane, "HIGH_WATER", 301):
        rate, sending_us, publishing_us = run_loop(sending.sending_rate(url, 300, 4))
    assert rate > 0 and sending_us > 0 and publishing_us > 0
