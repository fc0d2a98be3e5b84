"""The interpreter: timeline order and timing, choose/repeat/parallel, determinism, play's clock, parameters."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta

import pytest

from simulator import catalog
from simulator.errors import InvalidInput
from simulator.scenarios import find, load_text, play, resolve_params, timeline
from simulator.scenarios.runner import Planned

START = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)


def scenario(steps: str, params: str = "", provider: str = "syncfy"):
    head = f"name: test\nprovider: {provider}\n"
    if params:
        head += "params:\n" + "".join(f"  {line}\n" for line in params.strip().splitlines())
    return load_text(head + "steps:\n" + "".join(f"  {line}\n" for line in steps.strip().splitlines()))


def offsets(s, seed=1, **params):
    """(seconds after START, event type) of every planned emit."""
    return [
        ((p.at - START).total_seconds(), p.step.type) for p in timeline(s, seed=seed, params=params, start_time=START)
    ]


async def collect(s, seed=1, params=None, **kwargs):
    events = []

    async def emit(event, step):
        events.append(event)

    count = await play(s, seed=seed, params=params or {}, start_time=START, speed=0, emit=emit, **kwargs)
    assert count == len(events)
    return events


# --- the timeline ----------------------------------------------------------------------------------------------


def test_waits_add_up_and_repeat_counts():
    s = scenario("""
- emit: credentials.created
- wait: 3s
- emit: credentials.updated
- repeat: 2
  steps:
    - wait: 1h
    - emit: credentials.refreshed
""")
    assert offsets(s) == [
        (0, "credentials.created"),
        (3, "credentials.updated"),
        (3603, "credentials.refreshed"),
        (7203, "credentials.refreshed"),
    ]


def test_the_timeline_is_lazy():
    s = scenario("- repeat: 1000000000\n  steps: [{wait: 1s}, {emit: credentials.refreshed}]")
    planned = timeline(s, seed=1, params={}, start_time=START)
    first = list(itertools.islice(planned, 3))
    assert [p.at - START for p in first] == [timedelta(seconds=n) for n in (1, 2, 3)]


def test_parallel_interleaves_by_time_then_branch_and_ends_with_the_longest_branch():
    s = scenario("""
- parallel:
    - steps:
        - emit: credentials.created
        - wait: 2s
        - emit: credentials.updated
        - wait: 10s
    - steps:
        - emit: documents.completed
        - wait: 1s
        - emit: documents.success
        - wait: 2s
        - emit: documents.failed
- emit: credentials.refreshed
""")
    assert offsets(s) == [
        (0, "credentials.created"),
        (0, "documents.completed"),
        (1, "documents.success"),
        (2, "credentials.updated"),
        (3, "documents.failed"),
        (12, "credentials.refreshed"),
    ]


def test_parallel_merges_random_branches_in_time_order():
    s = scenario("""
- parallel:
    - steps:
        - repeat: 20
          steps: [{wait: {exponential: {mean: 5s}}}, {emit: credentials.refreshed}]
    - steps:
        - repeat: 20
          steps: [{wait: {uniform: [1s, 9s]}}, {emit: documents.success}]
""")
    for seed in range(20):
        planned = offsets(s, seed=seed)
        times = [t for t, _ in planned]
        assert times == sorted(times) and len(planned) == 40
        assert {name for _, name in planned[:10]} == {"credentials.refreshed", "documents.success"}


def test_repeat_for_stops_once_the_next_iteration_would_start_past_the_limit():
    s = scenario("""
- repeat: {for: 10m}
  steps:
    - emit: credentials.refreshed
    - wait: {uniform: [1m, 3m]}
- emit: documents.completed
""")
    for seed in range(50):
        planned = offsets(s, seed=seed)
        starts = [t for t, name in planned if name == "credentials.refreshed"]
        end = planned[-1][0]
        assert starts[0] == 0 and all(t < 600 for t in starts)  # every iteration began inside the window
        assert end >= 600 and end - starts[-1] <= 180  # and the next one would not have
        assert 3 <= len(starts) <= 10


def test_choose_follows_its_weights():
    s = scenario("""
- choose:
    - weight: 9
      steps: [{emit: documents.success}]
    - weight: 1
      steps: [{emit: documents.failed}]
""")
    picks = [offsets(s, seed=seed)[0][1] for seed in range(2000)]
    # 9:1 over 2,000 fixed seeds: 1,800 expected, standard deviation 13.
    assert 1750 <= picks.count("documents.success") <= 1850


def test_the_same_seed_gives_the_same_timeline_and_another_seed_another():
    s = find("basistheory-reactor-invocations")
    assert offsets(s, seed=5) == offsets(s, seed=5)
    assert offsets(s, seed=5) != offsets(s, seed=6)


def test_overrides_are_substituted_typed_or_interpolated():
    s = scenario(
        """
- emit: credentials.created
  unchecked: true
  with:
    payload.n: "${n}"
    payload.flag: "${flag}"
    payload.none: "${none}"
    payload.text: "n=${n} flag=${flag} none=${none} literal=$${n}"
    payload.nested: {list: ["${n}", "x${n}"]}
""",
        params="n: {default: 3}\nflag: {default: false}\nnone: {default: null}",
    )
    planned = next(iter(timeline(s, seed=1, params={"n": "7"}, start_time=START)))
    assert planned.overrides == {
        "payload.n": 7,
        "payload.flag": False,
        "payload.none": None,
        "payload.text": "n=7 flag=false none=null literal=${n}",
        "payload.nested": {"list": [7, "x7"]},
    }


def test_a_planned_emit_is_the_record_its_class_makes():
    s = scenario("""
- emit: credentials.created
- wait: 2s
- emit: credentials.updated
  with: {payload.is_executing: 1}
""")
    for planned in timeline(s, seed=1, params={}, start_time=START):
        made = Planned(planned.at, planned.step, dict(planned.overrides))
        assert planned == made and list(vars(planned)) == list(vars(made)) and type(planned) is Planned
        with pytest.raises(FrozenInstanceError):
            planned.at = START  # type: ignore[misc]


def test_params_drive_waits_and_repeat_counts():
    s = scenario(
        """
- repeat: "${times}"
  steps: [{wait: "${gap}"}, {emit: credentials.refreshed}]
""",
        params="times: {default: 2}\ngap: {default: 1h}",
    )
    assert offsets(s) == [(3600, "credentials.refreshed"), (7200, "credentials.refreshed")]
    assert offsets(s, times="3", gap="90s") == [
        (90, "credentials.refreshed"),
        (180, "credentials.refreshed"),
        (270, "credentials.refreshed"),
    ]
    assert offsets(s, times=0) == []


# --- parameters --------------------------------------------------------------------------------------------

PARAMS = "n: {default: 3}\nratio: {default: 0.5}\nflag: {default: false}\nname: {default: x}\nany: {default: null}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, {"n": 3, "ratio": 0.5, "flag": False, "name": "x", "any": None}),
        (
            {"n": "12", "ratio": "2", "flag": "yes", "name": 42, "any": "kept"},
            {"n": 12, "ratio": 2.0, "flag": True, "name": "42", "any": "kept"},
        ),
        ({"n": 4.0, "ratio": 1, "flag": "0"}, {"n": 4, "ratio": 1.0, "flag": False, "name": "x", "any": None}),
        ({"flag": "TRUE", "any": 5}, {"n": 3, "ratio": 0.5, "flag": True, "name": "x", "any": 5}),
    ],
)
def test_params_are_coerced_to_the_type_of_their_default(given, expected):
    s = scenario("- emit: credentials.created", params=PARAMS)
    assert resolve_params(s, given) == expected


@pytest.mark.parametrize(
    ("given", "field", "phrase"),
    [
        ({"nope": 1}, "params.nope", "unknown parameter 'nope'"),
        ({"n": "three"}, "params.n", "expected a whole number"),
        ({"n": 2.5}, "params.n", "expected a whole number"),
        ({"flag": "maybe"}, "params.flag", "expected true or false"),
        ({"ratio": "nan"}, "params.ratio", "expected a finite number"),
        ({"name": True}, "params.name", "expected a string"),
        # Python's int() and float() take these; nobody typing a count at a shell means them.
        ({"n": "1_000"}, "params.n", "expected a whole number"),
        ({"n": "\u0663"}, "params.n", "expected a whole number"),  # ARABIC-INDIC DIGIT THREE
        ({"ratio": "1_0.5"}, "params.ratio", "expected a number"),
    ],
)
def test_bad_params_name_the_param(given, field, phrase):
    s = scenario("- emit: credentials.created", params=PARAMS)
    with pytest.raises(InvalidInput) as caught:
        resolve_params(s, given)
    assert [(e.field, phrase in e.message) for e in caught.value.errors] == [(field, True)]


def test_a_param_that_breaks_a_wait_names_the_step():
    s = scenario(
        '- emit: credentials.created\n- wait: "${gap}"\n- repeat: "${n}"\n  steps: [{emit: credentials.refreshed}]',
        params="gap: {default: 2s}\nn: {default: '2'}",
    )
    with pytest.raises(InvalidInput) as caught:
        resolve_params(s, {"gap": "soon", "n": "many"})
    # The steps at their lines first, then the parameter that makes each: a request names no step of its own.
    fields = ["steps[1].wait", "steps[2].repeat", "params.gap", "params.n"]
    assert [e.field for e in caught.value.errors] == fields
    assert "'soon', from '${gap}'" in caught.value.errors[0].message
    assert caught.value.errors[2].message.endswith(", at steps[1].wait") and caught.value.errors[2].file is None


# --- play: building, determinism, the clock ----------------------------------------------------------------


async def test_play_numbers_the_events_and_tags_the_run():
    events = await collect(find("syncfy-credential-lifecycle"), run_id="run_1")
    assert [e.seq for e in events] == list(range(len(events)))
    assert {e.run_id for e in events} == {"run_1"}
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert events[0].occurred_at == START


@pytest.mark.parametrize(
    "name", ["syncfy-credential-lifecycle", "basistheory-token-lifecycle", "basistheory-reactor-invocations"]
)
async def test_the_same_inputs_give_byte_identical_bodies(name):
    s = find(name)
    first, again, other = await collect(s, seed=42), await collect(s, seed=42), await collect(s, seed=43)
    assert [(e.key, e.json) for e in first] == [(e.key, e.json) for e in again]
    assert [catalog.render([e]) for e in first] == [catalog.render([e]) for e in again]
    assert [e.json for e in first] != [e.json for e in other]


async def test_inserting_a_wait_does_not_change_the_bodies():
    steps = "- emit: credentials.created\n- wait: 4s\n{extra}- emit: credentials.updated\n- emit: documents.success"
    plain = scenario(steps.format(extra=""))
    # A zero-length uniform wait and a choice draw from the timeline's stream without moving time.
    extra = (
        "- wait: {uniform: [0s, 0s]}\n- choose: [{weight: 1, steps: [{wait: 0s}]}, {weight: 2, steps: [{wait: 0s}]}]\n"
    )
    drawn = scenario(steps.format(extra=extra))
    a, b = await collect(plain, seed=3), await collect(drawn, seed=3)
    assert [e.json for e in a] == [e.json for e in b]


async def test_params_and_refs_reach_the_builders():
    events = await collect(find("syncfy-two-customers"), params={"environment": "production"})
    users = {}
    for e in events:
        users.setdefault(e.data["header"]["user"]["id_user"], []).append(e.type)
        assert e.data["header"]["user"]["id_environment"] == "574894bf7848066d138b4571"
    assert sorted(users.values()) == [["credentials.created", "credentials.updated", "credentials.refreshed"]] * 2


async def test_speed_zero_never_sleeps_and_flushes_once_at_the_end():
    calls = []

    async def sleep(seconds):
        raise AssertionError(f"slept {seconds}")

    async def on_idle():
        calls.append("idle")

    events = await collect(find("syncfy-two-factor"), sleep=sleep, on_idle=on_idle)
    assert len(events) == 7 and calls == ["idle"]


class FakeClock:
    """A monotonic clock that only moves when something sleeps or work is simulated."""

    def __init__(self) -> None:
        self.now = 100.0
        self.log: list[tuple[str, object]] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.log.append(("sleep", round(seconds, 6)))
        self.now += seconds

    async def on_idle(self) -> None:
        self.log.append(("idle", None))

    async def play_three(self, speed: float, emit, **extra) -> int:
        """Play THREE on this clock at `speed`."""
        return await play(
            scenario(THREE),
            seed=1,
            params={},
            start_time=START,
            speed=speed,
            emit=emit,
            sleep=self.sleep,
            monotonic=self.monotonic,
            **extra,
        )


THREE = "- emit: credentials.created\n- wait: 3s\n- emit: credentials.updated\n- wait: 5s\n- emit: documents.success"


async def test_play_sleeps_the_scaled_waits_and_flushes_before_each_sleep():
    clock = FakeClock()

    async def emit(event, step):
        clock.log.append(("emit", event.type))

    count = await clock.play_three(2, emit, on_idle=clock.on_idle)
    assert count == 3
    assert clock.log == [
        ("emit", "credentials.created"),
        ("idle", None),
        ("sleep", 1.5),
        ("emit", "credentials.updated"),
        ("idle", None),
        ("sleep", 2.5),
        ("emit", "documents.success"),
        ("idle", None),
    ]


async def test_the_clock_starts_when_the_run_is_ready_plus_its_lead():
    """A run's first events are built ahead of time: its clock starts `lead` after it is ready (`on_start`), not
    when it was asked for, so a slow preparation never makes its first deliveries late."""
    clock = FakeClock()

    def started() -> None:
        clock.log.append(("start", clock.now))
        clock.now += 5  # whatever the caller does at that moment: the run's time counts from after it

    async def emit(event, step):
        clock.log.append(("emit", clock.now))

    await clock.play_three(1, emit, on_start=started, lead=0.25)
    # t0 = 105.25: the first event (offset 0) after sleeping the lead, the others 3 s and 8 s after t0.
    assert clock.log == [
        ("start", 100.0),
        ("sleep", 0.25),
        ("emit", 105.25),
        ("sleep", 3.0),
        ("emit", 108.25),
        ("sleep", 5.0),
        ("emit", 113.25),
    ]


async def test_deadlines_are_absolute_so_slow_emits_do_not_add_up():
    clock = FakeClock()

    async def slow_emit(event, step):
        clock.now += 0.5  # each hand-over takes half a second of wall time

    await clock.play_three(2, slow_emit)
    assert [d for kind, d in clock.log if kind == "sleep"] == [1.0, 2.0]
    assert clock.now == 100.0 + 4.0 + 0.5


async def test_an_emit_later_than_its_deadline_goes_out_without_sleeping():
    clock = FakeClock()

    async def very_slow_emit(event, step):
        clock.now += 10

    await clock.play_three(1, very_slow_emit, on_idle=clock.on_idle)
    assert clock.log == [("idle", None)]


async def test_cancelling_a_sleeping_run_propagates():
    sleeping, emitted = asyncio.Event(), []

    async def sleep_forever(seconds):
        sleeping.set()
        await asyncio.Event().wait()

    async def emit(event, step):
        emitted.append(event.type)

    task = asyncio.create_task(
        play(scenario(THREE), seed=1, params={}, start_time=START, speed=1, emit=emit, sleep=sleep_forever)
    )
    await asyncio.wait_for(sleeping.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled() and emitted == ["credentials.created"]


async def test_cancelling_a_speed_zero_run_gets_through():
    s = scenario("- repeat: 2000\n  steps: [{emit: credentials.refreshed}]")
    emitted = []

    async def emit(event, step):  # never suspends
        emitted.append(event.seq)

    task = asyncio.create_task(play(s, seed=1, params={}, start_time=START, speed=0, emit=emit))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 0 < len(emitted) < 2000


async def test_a_speed_zero_run_gives_the_loop_a_turn_every_few_milliseconds():
    """However quickly its events come, a run at speed 0 lets other tasks (a timed run's sends, the API) have
    the loop once about 2 ms have gone by without a turn; here each event takes a millisecond of the clock."""
    s = scenario("- repeat: 400\n  steps: [{emit: credentials.refreshed}]")
    clock = itertools.count()
    turns = {"others": 0, "emitted": 0}

    async def emit(event, step):  # never suspends
        turns["emitted"] += 1

    async def other() -> None:
        while True:
            turns["others"] += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(other())
    await asyncio.sleep(0)
    before = turns["others"]
    await play(s, seed=1, params={}, start_time=START, speed=0, emit=emit, monotonic=lambda: next(clock) / 1000)
    ticker.cancel()
    # Each event reads the clock about once: a turn every two or three events, not one every few hundred.
    assert turns["emitted"] == 400 and turns["others"] - before >= 100


@pytest.mark.parametrize("speed", [-1, float("nan"), float("inf")])
async def test_a_bad_speed_is_refused(speed):
    async def emit(event, step):
        raise AssertionError("emitted")

    with pytest.raises(InvalidInput) as caught:
        await play(scenario(THREE), seed=1, params={}, start_time=START, speed=speed, emit=emit)
    assert caught.value.errors[0].field == "speed"


def test_event_json_is_json():
    events = asyncio.run(collect(find("basistheory-proxy-traffic")))
    assert all(json.loads(e.json) == e.data for e in events)
