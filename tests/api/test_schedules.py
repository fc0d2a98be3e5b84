"""Schedules over HTTP: triggers, validation, firing, pause, resume, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from simulator.core.job_store import trigger_from_json, trigger_json
from simulator.core.schedules import crontab
from simulator.models import answers as schemas
from tests.api.harness import eventually, ok, problem


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def runs(api: httpx.Client) -> list[dict]:
    return ok(api.get("/runs"), schemas.RunPage)["data"]


def test_an_interval_schedule_fires_runs_with_its_fields(api: httpx.Client) -> None:
    made = ok(
        api.post("/schedules", json={"scenario": "api-one-event", "interval": 1, "seed": 42, "speed": 0}),
        schemas.Schedule,
        201,
    )
    assert made["trigger"] == {"interval": 1.0} and made["paused"] is False
    assert made["run"]["seed"] == 42 and made["next_run_at"] is not None
    eventually(lambda: len(runs(api)) >= 2, timeout=6, what="two firings")
    assert {(r["scenario"], r["seed"], r["speed"]) for r in runs(api)} == {("api-one-event", 42, 0.0)}
    assert [s["id"] for s in ok(api.get("/schedules"), schemas.SchedulePage)["data"]] == [made["id"]]


def test_a_firing_is_kept_on_the_schedule_with_its_run_or_why_none_started(
    api: httpx.Client, scenario_dir: Path
) -> None:
    """A firing whose run could not start (its scenario file removed) was a line in the server's log: a client saw
    no run and no reason, and a one-off left the list as if it had run."""
    scenario = scenario_dir / "goes-away.yaml"
    scenario.write_text((scenario_dir / "api-one-event.yaml").read_text().replace("api-one-event", "goes-away"))
    every = ok(api.post("/schedules", json={"scenario": "goes-away", "interval": 1, "speed": 0}), schemas.Schedule, 201)
    assert every["last_firing"] is None

    def last() -> dict | None:
        listed = ok(api.get("/schedules"), schemas.SchedulePage)["data"]
        return next(s for s in listed if s["id"] == every["id"])["last_firing"]

    eventually(lambda: last() is not None, timeout=6, what="a firing")
    fired = last()
    assert fired is not None and fired["error"] is None and fired["run"] in {r["id"] for r in runs(api)}
    at = iso(datetime.now(UTC) + timedelta(seconds=2))
    once = ok(api.post("/schedules", json={"scenario": "goes-away", "at": at, "speed": 0}), schemas.Schedule, 201)
    scenario.unlink()  # after the one-off was checked, before it fires
    eventually(lambda: (last() or {}).get("error") is not None, timeout=6, what="a failed firing")
    failed = last()
    assert failed is not None and failed["run"] is None and "goes-away" in failed["error"], failed

    def one_off() -> dict | None:  # still listed once fired, its failed firing recorded (the firing's own write)
        listed = {s["id"]: s for s in ok(api.get("/schedules"), schemas.SchedulePage)["data"]}
        shown = listed[once["id"]]
        return shown if (shown["last_firing"] or {}).get("error") else None

    fired_once = eventually(one_off, timeout=8, what="the one-off's failed firing")
    assert fired_once["next_run_at"] is None and "goes-away" in fired_once["last_firing"]["error"], fired_once

    def said() -> str | None:
        detail = str(problem(api.post(f"/schedules/{once['id']}/pause"), 409, "id")["detail"])
        return detail if "its run could not start" in detail else None

    refused = eventually(said, what="the failure said")
    assert "goes-away" in refused, refused


def fired_listed(api: httpx.Client, schedule_id: str) -> bool:
    """Whether the list shows the one-off `schedule_id` as fired: no next time, its firing recorded."""
    listed = {s["id"]: s for s in ok(api.get("/schedules"), schemas.SchedulePage)["data"]}
    shown = listed.get(schedule_id)
    return shown is not None and shown["next_run_at"] is None and shown["last_firing"] is not None


def test_a_one_off_fires_once_and_stays_listed_as_fired(api: httpx.Client) -> None:
    at = datetime.now(UTC) + timedelta(seconds=1)
    made = ok(
        api.post("/schedules", json={"scenario": "api-one-event", "at": iso(at), "speed": 0}), schemas.Schedule, 201
    )
    assert datetime.fromisoformat(made["trigger"]["at"]) == at.replace(microsecond=at.microsecond // 1000 * 1000)
    eventually(lambda: len(runs(api)) == 1, timeout=5, what="the firing")
    eventually(lambda: fired_listed(api, made["id"]), what="the one-off fired")
    assert len(runs(api)) == 1


def test_a_one_off_that_fired_answers_for_itself_until_deleted(api: httpx.Client) -> None:
    """A one-off whose `at` was past fired at once, and a DELETE made right after creating it answered 404, as
    for a schedule that never existed."""
    past = datetime.now(UTC) - timedelta(hours=1)
    made = ok(
        api.post("/schedules", json={"scenario": "api-one-event", "at": iso(past), "speed": 0}), schemas.Schedule, 201
    )
    eventually(lambda: len(runs(api)) == 1, timeout=5, what="the firing")
    eventually(lambda: fired_listed(api, made["id"]), what="the one-off fired")
    for action in ("pause", "resume"):
        problem(api.post(f"/schedules/{made['id']}/{action}"), 409, "id")
    ok(api.delete(f"/schedules/{made['id']}"), None, 204)
    problem(api.delete(f"/schedules/{made['id']}"), 404, "id")  # now it is gone
    problem(api.post(f"/schedules/{made['id']}/pause"), 404, "id")


def test_cron_schedule_and_its_next_time(api: httpx.Client) -> None:
    made = ok(
        api.post("/schedules", json={"scenario": "api-slow", "cron": "30 4 * * 1", "params": {"plan": "pro"}}),
        schemas.Schedule,
        201,
    )
    when = datetime.fromisoformat(made["next_run_at"])
    assert (when.weekday(), when.hour, when.minute, when.second) == (0, 4, 30, 0)
    assert made["trigger"] == {"cron": "30 4 * * 1"} and made["run"]["params"] == {"plan": "pro"}


def test_pause_resume_delete(api: httpx.Client) -> None:
    made = ok(api.post("/schedules", json={"scenario": "api-one-event", "cron": "0 0 * * *"}), schemas.Schedule, 201)
    paused = ok(api.post(f"/schedules/{made['id']}/pause"), schemas.Schedule)
    assert (paused["paused"], paused["next_run_at"]) == (True, None)
    assert ok(api.get("/schedules"), schemas.SchedulePage)["data"][0]["paused"] is True
    resumed = ok(api.post(f"/schedules/{made['id']}/resume"), schemas.Schedule)
    assert (resumed["paused"], resumed["next_run_at"]) == (False, made["next_run_at"])
    assert api.delete(f"/schedules/{made['id']}").status_code == 204
    assert ok(api.get("/schedules"), schemas.SchedulePage)["data"] == []
    for response in (
        api.delete(f"/schedules/{made['id']}"),
        api.post(f"/schedules/{made['id']}/pause"),
        api.post(f"/schedules/{made['id']}/resume"),
    ):
        problem(response, 404, "id")


def test_a_one_off_missed_while_paused_fires_when_resumed(api: httpx.Client) -> None:
    at = datetime.now(UTC) + timedelta(seconds=2)  # made and paused before then, on a loaded machine too
    made = ok(
        api.post("/schedules", json={"scenario": "api-one-event", "at": iso(at), "speed": 0}), schemas.Schedule, 201
    )
    ok(api.post(f"/schedules/{made['id']}/pause"), schemas.Schedule)
    eventually(lambda: datetime.now(UTC) > at + timedelta(seconds=0.3), what="the time to pass")
    assert runs(api) == []
    ok(api.post(f"/schedules/{made['id']}/resume"), schemas.Schedule)
    eventually(lambda: len(runs(api)) == 1, timeout=5, what="the late firing")
    eventually(lambda: fired_listed(api, made["id"]), what="the one-off fired")


def test_a_paused_schedule_does_not_fire(api: httpx.Client) -> None:
    made = ok(
        api.post("/schedules", json={"scenario": "api-one-event", "interval": 2, "speed": 0}), schemas.Schedule, 201
    )
    ok(api.post(f"/schedules/{made['id']}/pause"), schemas.Schedule)  # within its first 2 s, on a loaded machine too
    at = datetime.now(UTC) + timedelta(seconds=2.5)  # past the time it would have fired
    marker = ok(
        api.post("/schedules", json={"scenario": "api-slow", "at": iso(at), "speed": 1e6}), schemas.Schedule, 201
    )
    eventually(lambda: any(r["scenario"] == "api-slow" for r in runs(api)), timeout=5, what="the marker firing")
    assert [r["scenario"] for r in runs(api)] == ["api-slow"], marker


def test_the_run_secret_is_masked(api: httpx.Client) -> None:
    secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    made = api.post(
        "/schedules",
        json={
            "scenario": "api-one-event",
            "cron": "0 0 * * *",
            "signing": "standard",
            "target": "http://127.0.0.1:9/hook",
            "secret": secret,
        },
    )
    assert ok(made, schemas.Schedule, 201)["run"]["secret"] == "whsec_****VldY"
    assert "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" not in made.text + api.get("/schedules").text


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"scenario": "api-one-event"}, 422, "cron"),
        ({"scenario": "api-one-event", "cron": "* * * * *", "interval": 60}, 422, "interval"),
        ({"scenario": "api-one-event", "cron": "* * *"}, 422, "cron"),
        ({"scenario": "api-one-event", "cron": "61 * * * *"}, 422, "cron"),
        ({"scenario": "api-one-event", "cron": "0 0 30 2 *"}, 422, "cron"),
        ({"scenario": "api-one-event", "interval": 0.5}, 422, "interval"),
        ({"scenario": "api-one-event", "interval": "often"}, 422, "interval"),
        ({"scenario": "api-one-event", "at": "2001-01-01T00:00:00"}, 422, "at"),  # no offset: which time?
        ({"scenario": "api-one-event", "at": "tomorrow"}, 422, "at"),
        ({"scenario": "api-one-evnt", "interval": 60}, 404, "scenario"),
        ({"scenario": "./api-one-event.yaml", "interval": 60}, 422, "scenario"),
        ({"scenario": "api-slow", "interval": 60, "params": {"tier": 1}}, 422, "params.tier"),
        (
            {"scenario": "syncfy-credential-lifecycle", "interval": 60, "params": {"institution": "moon"}},
            422,
            "params.institution",
        ),
        ({"scenario": "api-one-event", "interval": 60, "subscriptions": ["sub_nope"]}, 404, "subscriptions.0"),
        ({"scenario": "api-one-event", "interval": 60, "speed": -2}, 422, "speed"),
        # A one-off's run starts as it fires, and a Syncfy run starting in 2150 is refused: taken, it could not run.
        ({"scenario": "syncfy-two-factor", "at": "2150-01-01T00:00:00Z"}, 422, "at"),
    ],
)
def test_invalid_schedules(refusing_api: httpx.Client, body: dict, status: int, field: str) -> None:
    problem(refusing_api.post("/schedules", json=body), status, field)
    assert ok(refusing_api.get("/schedules"), schemas.SchedulePage)["data"] == []


@pytest.mark.parametrize(
    ("weekday", "fires_on"),
    [
        ("0", {"Sun"}),
        ("7", {"Sun"}),
        ("1", {"Mon"}),
        ("1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("5-7", {"Fri", "Sat", "Sun"}),
        ("*/2", {"Sun", "Tue", "Thu", "Sat"}),
        ("sat,sun", {"Sat", "Sun"}),
    ],
)
def test_crontab_weekdays_count_from_sunday(weekday: str, fires_on: set[str]) -> None:
    trigger = crontab(f"0 12 * * {weekday}")
    when, days = datetime(2025, 1, 1, tzinfo=UTC), set()
    for _ in range(7):
        when = trigger.get_next_fire_time(None, when + timedelta(seconds=1))
        days.add(when.strftime("%a"))
    assert days == fires_on


@pytest.mark.parametrize(
    ("expr", "first"),
    [
        ("0 0 13 * 5", ["2026-12-04", "2026-12-11", "2026-12-13", "2026-12-18"]),  # every 13th and every Friday
        ("0 0 1-7 * 1", ["2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05"]),
        ("0 0 13 * *", ["2026-12-13", "2027-01-13", "2027-02-13", "2027-03-13"]),  # one of them `*`: as before
        ("0 0 * * 5", ["2026-12-04", "2026-12-11", "2026-12-18", "2026-12-25"]),
    ],
)
def test_a_crontab_restricting_both_day_fields_fires_when_either_matches(expr: str, first: list[str]) -> None:
    """cron's rule: both must match only where one of them is `*`. Both were required, so `0 0 13 * 5` fired
    on Friday the 13ths alone. The trigger survives the job store's round trip."""
    when, fired = datetime(2026, 12, 1, 12, tzinfo=UTC), []
    for trigger in (crontab(expr), trigger_from_json(trigger_json(crontab(expr)))):
        when, fired = datetime(2026, 12, 1, 12, tzinfo=UTC), []
        for _ in range(4):
            when = trigger.get_next_fire_time(None, when + timedelta(seconds=1))
            fired.append(f"{when:%Y-%m-%d}")
        assert fired == first


BAD_RUNS = {
    "scenario faults": lambda d: {"scenario": "bad-faults"},
    "run faults": lambda d: {"scenario": "api-one-event", "faults": {"drop": 7}},
    "params": lambda d: {"scenario": "api-one-event", "params": {"nope": 1}},
    "subscription": lambda d: {"scenario": "api-one-event", "subscriptions": ["sub_nope"]},
    "scenario": lambda d: {"scenario": "no-such-scenario"},
}


@pytest.mark.parametrize("case", BAD_RUNS)
def test_schedules_refuse_what_runs_refuse_with_the_same_problem(api, scenario_dir, case) -> None:
    (scenario_dir / "bad-faults.yaml").write_text(
        "name: bad-faults\nprovider: syncfy\nfaults: {drop: 7}\nsteps:\n  - emit: credentials.created\n"
    )
    body = BAD_RUNS[case](scenario_dir)
    refused = api.post("/runs", json=body)
    assert refused.status_code in (404, 422), refused.text
    scheduled = api.post("/schedules", json={**body, "cron": "0 0 * * *"})
    assert (scheduled.status_code, scheduled.json()) == (refused.status_code, refused.json())
    assert scheduled.headers["content-type"] == "application/problem+json"
    assert api.get("/schedules").json()["data"] == []
