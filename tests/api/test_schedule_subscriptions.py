"""A subscription that a schedule names is not deleted from under it: every later firing would fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from simulator.models import answers as schemas
from tests.api.harness import eventually, ok, problem
from tests.api.test_schedules import fired_listed


def _subscription(api: httpx.Client) -> str:
    made = ok(api.post("/subscriptions", json={"url": "http://127.0.0.1:9/hook"}), schemas.Subscription, 201)
    return str(made["id"])


def _schedule(api: httpx.Client, **trigger: object) -> dict:
    return ok(api.post("/schedules", json={"scenario": "api-one-event", **trigger}), schemas.Schedule, 201)


def test_a_subscription_named_by_a_schedule_is_kept_until_the_schedule_is_deleted(api: httpx.Client) -> None:
    named, other = _subscription(api), _subscription(api)
    schedule = _schedule(api, interval=3600, subscriptions=[named])
    paused = _schedule(api, cron="0 0 1 1 *", subscriptions=[named, other])
    ok(api.post(f"/schedules/{paused['id']}/pause"), schemas.Schedule)  # paused, it will still fire once resumed

    body = problem(api.delete(f"/subscriptions/{named}"), 409, "id")
    assert schedule["id"] in body["detail"] and paused["id"] in body["detail"], body
    ok(api.get(f"/subscriptions/{named}"), schemas.Subscription)  # still there

    ok(api.delete(f"/schedules/{schedule['id']}"), None, 204)
    body = problem(api.delete(f"/subscriptions/{named}"), 409, "id")
    assert schedule["id"] not in body["detail"] and paused["id"] in body["detail"], body
    ok(api.delete(f"/schedules/{paused['id']}"), None, 204)
    ok(api.delete(f"/subscriptions/{named}"), None, 204)
    ok(api.delete(f"/subscriptions/{other}"), None, 204)


def test_a_one_off_that_has_fired_names_nothing(api: httpx.Client) -> None:
    sub = _subscription(api)
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    fired = _schedule(api, at=past, speed=0, subscriptions=[sub])
    eventually(lambda: fired_listed(api, fired["id"]), what="the one-off fired")
    ok(api.delete(f"/subscriptions/{sub}"), None, 204)
    ok(api.delete(f"/schedules/{fired['id']}"), None, 204)


def test_an_unknown_subscription_is_still_a_404(api: httpx.Client) -> None:
    problem(api.delete("/subscriptions/sub_nope"), 404, "id")
