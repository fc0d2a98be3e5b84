"""Deliveries picked by when they were made: `GET /deliveries?since=&until=` and the body `{"since", "until"}` of
`POST /subscriptions/{id}/redeliver` ("recover the failed messages since T"). The bounds are read from the
deliveries' own `created_at`, so which ones a window holds is known without the test's clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from simulator.models import answers as schemas
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually, ok, problem

COUNT = 5


def _dead_deliveries(api: httpx.Client, receiver: Receiver, count: int = COUNT) -> tuple[str, list[dict[str, str]]]:
    """A subscription whose every attempt fails once, and `count` dead deliveries made one after another (each
    made once the one before has died): its id, and the deliveries as listed, oldest first."""
    receiver.respond(500)
    body = {"url": receiver.url, "signing": "standard", "retry": {"delays": [], "jitter": 0}, "disable_after": 0}
    sub = ok(api.post("/subscriptions", json=body), schemas.Subscription, 201)["id"]
    for _ in range(count):
        [made] = ok(api.post("/events", json={"type": "token.created"}), schemas.EmittedEvent, 202)["deliveries"]
        eventually(lambda: api.get(f"/deliveries/{made}").json()["status"] == "dead", what=f"{made} dead")  # noqa: B023
    listed = ok(api.get("/deliveries", params={"subscription": sub}), schemas.DeliveryPage)["data"]
    assert len(listed) == count
    return sub, listed


def _made(d: dict[str, str]) -> datetime:
    return datetime.fromisoformat(d["created_at"])


def _within(deliveries: list[dict[str, str]], since: str | None, until: str | None) -> list[str]:
    """The ids the window should hold, judged on the answered times (two made in one millisecond share one)."""
    low = datetime.fromisoformat(since) if since else None
    high = datetime.fromisoformat(until) if until else None
    return [d["id"] for d in deliveries if (low is None or _made(d) >= low) and (high is None or _made(d) < high)]


def _listed(api: httpx.Client, **params: str | int) -> list[str]:
    """Every page of GET /deliveries with `params`, walked with the cursor."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = ok(api.get("/deliveries", params=query), schemas.DeliveryPage)
        ids += [d["id"] for d in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def test_the_list_holds_the_deliveries_made_in_the_window(api: httpx.Client, receiver: Receiver) -> None:
    sub, made = _dead_deliveries(api, receiver)
    since, until = made[1]["created_at"], made[3]["created_at"]
    expected = _within(made, since, until)
    # The window holds the second and third (and any made in the same millisecond as a bound's own side).
    assert made[1]["id"] in expected and made[3]["id"] not in expected and made[0]["id"] not in expected
    assert _listed(api, since=since, until=until) == expected
    # With the cursor, a page of one at a time, and with every other filter.
    assert _listed(api, since=since, until=until, limit=1) == expected
    assert _listed(api, since=since, until=until, order="newest", limit=2) == expected[::-1]
    assert _listed(api, since=since, until=until, subscription=sub, status="dead", type="token.created") == expected
    assert _listed(api, since=since, until=until, status="succeeded") == []
    # Each bound alone; a bound with another offset is the same instant.
    assert _listed(api, since=since) == _within(made, since, None)
    assert _listed(api, until=until) == _within(made, None, until)
    shifted = _made(made[1]).astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert _listed(api, since=shifted, until=until) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2025-03-14T15:09:26"}, "since"),  # no offset: which instant is meant is unknown
        ({"until": "2025-03-14 15:09"}, "until"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2025-03-14T15:09:26Z", "until": "1969-12-31T23:59:59Z"}, "until"),  # before what it can name
    ],
)
def test_a_bad_time_is_refused_naming_the_bound(api: httpx.Client, params: dict[str, str], field: str) -> None:
    problem(api.get("/deliveries", params=params), 422, field)
    sub = ok(api.post("/subscriptions", json={"url": "http://127.0.0.1:9/x"}), schemas.Subscription, 201)["id"]
    problem(api.post(f"/subscriptions/{sub}/redeliver", json=params), 422, field)


def test_redeliver_sends_again_the_dead_deliveries_made_in_the_window(api: httpx.Client, receiver: Receiver) -> None:
    sub, made = _dead_deliveries(api, receiver)
    since, until = made[1]["created_at"], made[4]["created_at"]
    expected = _within(made, since, until)
    assert made[1]["id"] in expected and made[0]["id"] not in expected and made[4]["id"] not in expected
    # A window that ends before it starts holds nothing (the document can state no rule between two fields).
    empty = api.post(f"/subscriptions/{sub}/redeliver", json={"since": until, "until": since})
    assert ok(empty, schemas.Redelivered, 202)["redelivered"] == []
    assert _listed(api, since=until, until=since) == _listed(api, since=since, until=since) == []

    receiver.respond(204)
    again = ok(
        api.post(f"/subscriptions/{sub}/redeliver", json={"since": since, "until": until}), schemas.Redelivered, 202
    )
    assert again["redelivered"] == expected  # in the order they were made
    eventually(lambda: len(receiver.requests) == COUNT + len(expected), what="the window's deliveries sent again")
    assert [r.headers["webhook-id"] for r in receiver.requests[COUNT:]] == expected
    wanted = ["succeeded" if d["id"] in expected else "dead" for d in made]
    eventually(lambda: [d["status"] for d in _listed_details(api, sub)] == wanted, what="the window's succeeded")

    # `since` alone: the rest made from then on that are still dead; `{}` every dead one left.
    rest = [d["id"] for d in made if d["id"] not in expected]
    later = ok(
        api.post(f"/subscriptions/{sub}/redeliver", json={"since": made[4]["created_at"]}), schemas.Redelivered, 202
    )
    assert later["redelivered"] == [i for i in _within(made, made[4]["created_at"], None) if i in rest]
    eventually(lambda: len(receiver.requests) == COUNT + len(expected) + len(later["redelivered"]), what="sent")
    left = ok(api.post(f"/subscriptions/{sub}/redeliver", json={}), schemas.Redelivered, 202)
    assert left["redelivered"] == [i for i in rest if i not in later["redelivered"]]


def _listed_details(api: httpx.Client, sub: str) -> list[dict[str, str]]:
    return ok(api.get("/deliveries", params={"subscription": sub}), schemas.DeliveryPage)["data"]


def test_the_document_states_the_window(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    params = {p["name"]: p for p in doc["paths"]["/deliveries"]["get"]["parameters"]}
    for name in ("since", "until"):
        assert params[name]["required"] is False
        assert params[name]["schema"]["type"] == "string" and params[name]["schema"]["pattern"].startswith("^")
    redeliver = doc["paths"]["/subscriptions/{id}/redeliver"]["post"]
    assert redeliver["requestBody"]["required"] is False  # no body, as before: every dead delivery
    body = doc["components"]["schemas"]["RedeliverWindow"]
    assert set(body["properties"]) == {"since", "until"} and not body.get("required")
    assert "422" in redeliver["responses"]
