"""`webhook-sim deliveries --since/--until` and `resend --dead --subscription ID --since/--until`: the deliveries
made in a window, whose bounds are read from the deliveries' own `created_at`; a bad bound, or an `--until` not
later than `--since` (which the API would answer with nothing), is exit 2 naming the option."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from simulator.testing.receiver import Receiver
from tests.api.harness import ApiServer, eventually
from tests.cli.conftest import Ran

COUNT = 4


def _dead(api: httpx.Client, receiver: Receiver) -> tuple[str, list[dict[str, str]]]:
    """`COUNT` dead deliveries of one subscription, each made once the one before has died."""
    receiver.respond(500)
    # Every one dead, and the subscription still enabled (`disable_after`).
    body = {"url": receiver.url, "signing": "standard", "retry": {"delays": []}, "disable_after": 0}
    sub = api.post("/subscriptions", json=body).json()["id"]
    for _ in range(COUNT):
        [made] = api.post("/events", json={"type": "token.created"}).json()["deliveries"]
        eventually(lambda: api.get(f"/deliveries/{made}").json()["status"] == "dead", what=f"{made} dead")  # noqa: B023
    return sub, api.get("/deliveries", params={"subscription": sub}).json()["data"]


def _within(made: list[dict[str, str]], since: str, until: str) -> list[str]:
    """The window's ids, judged on the answered times (two made in one millisecond share one)."""
    low, high = datetime.fromisoformat(since), datetime.fromisoformat(until)
    return [d["id"] for d in made if low <= datetime.fromisoformat(d["created_at"]) < high]


def test_deliveries_and_resend_take_a_window(
    main: Callable[..., Ran], server: ApiServer, api: httpx.Client, receiver: Receiver
) -> None:
    sub, made = _dead(api, receiver)
    since, until = made[1]["created_at"], made[3]["created_at"]
    expected = _within(made, since, until)
    assert made[1]["id"] in expected and made[0]["id"] not in expected and made[3]["id"] not in expected

    ran = main("deliveries", "--server", server.url, "--since", since, "--until", until, "--json")
    assert ran.code == 0, ran
    assert [json.loads(line)["id"] for line in ran.out.splitlines()] == expected

    receiver.respond(204)
    ran = main("resend", "--dead", "--subscription", sub, "--since", since, "--until", until, "--server", server.url)
    assert ran.code == 0, ran
    assert f"resent {len(expected)} dead deliveries of {sub}" in ran.out, ran
    assert [r.headers["webhook-id"] for r in receiver.requests[COUNT:]] == expected
    statuses = {d["id"]: d["status"] for d in api.get("/deliveries", params={"subscription": sub}).json()["data"]}
    assert statuses == {d["id"]: "succeeded" if d["id"] in expected else "dead" for d in made}


DEAD = ["resend", "--dead", "--subscription", "sub_x"]


@pytest.mark.parametrize(
    ("args", "option", "why"),
    [
        (["deliveries", "--since", "2025-03-14T15:09:26"], "--since", "no offset"),
        (["deliveries", "--until", "tomorrow"], "--until", "not an RFC 3339 time"),
        (["deliveries", "--since", "2025-03-14T15:09:26Z", "--until", "2025-03-14T15:09:26Z"], "--until", "later"),
        ([*DEAD, "--since", "2025-03-14"], "--since", "not an RFC 3339 time"),
        ([*DEAD, "--since", "2025-03-14T16:00:00+01:00", "--until", "2025-03-14T15:00:00Z"], "--until", "later"),
        (["resend", "msg_x", "--since", "2025-03-14T15:09:26Z"], "--since", "goes with --dead"),
    ],
)
def test_a_bad_window_is_exit_2_naming_the_option(
    main: Callable[..., Ran], capsys: pytest.CaptureFixture[str], args: list[str], option: str, why: str
) -> None:
    # Port 9 (discard) is never asked: the refusal comes first. A value argparse refuses ends in SystemExit(2).
    try:
        ran = main(*args, "--server", "http://127.0.0.1:9")
    except SystemExit as exit_:
        ran = Ran(int(exit_.code or 0), "", capsys.readouterr().err)
    assert ran.code == 2, ran
    assert option in ran.err and why in ran.err, ran
