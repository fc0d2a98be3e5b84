"""`--format json` of `listen` and `trigger`: JSON Lines on stdout, one object per request or per delivery, no ANSI
codes, the notes for a person on stderr; as `stripe listen --format JSON` prints each event."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from simulator.testing.receiver import Receiver
from tests.api.harness import serving_api
from tests.cli.conftest import Ran
from tests.cli.listen_process import ListenProcess


def test_listen_and_trigger_print_json_lines_and_listen_outlives_its_server(
    main: Callable[..., Ran], tmp_path: Path
) -> None:
    with serving_api(tmp_path) as server:
        listening = ListenProcess("--server", server.url, "--port", "0", "--format", "json")
        try:
            [made] = listening.wait_for("stderr", r"^subscription (sub_\S+) on ")
            listening.wait_for("stderr", r"^Ready! Your webhook signing secret is \S+")
            sub_id = made.group(1)

            ran = main("trigger", "credentials.created", "--server", server.url, "--format", "json")
            assert ran.code == 0, ran
            event, delivery = [json.loads(line) for line in ran.out.splitlines()]
            assert event == {
                "object": "event",
                "id": event["id"],
                "type": "syncfy:credentials.created",
                "deliveries": [delivery["id"]],
            }
            assert delivery == {
                "object": "delivery",
                "id": delivery["id"],
                "event": event["id"],
                "subscription": sub_id,
                "target": None,
                "status": "succeeded",
                "final": True,
                "attempts": 1,
                "http_status": 204,
                "error": None,
                "outcome": "succeeded after 1 attempt, HTTP 204",
            }

            listening.wait_for("stdout", event["id"])
            [request] = [json.loads(line) for line in listening.lines["stdout"]]
            assert {k: request[k] for k in ("method", "path", "provider", "types", "event_ids", "delivery_id")} == {
                "method": "POST",
                "path": "/",
                "provider": "syncfy",
                "types": ["credentials.created"],
                "event_ids": [event["id"]],
                "delivery_id": delivery["id"],
            }
            assert request["signature"] == {"scheme": "syncfy", "verified": True, "reason": "ok"}
            assert (request["status"], request["note"]) == (204, None)
            assert request["body"]["events"][0]["header"]["event"]["eid"] == event["id"]  # the body, parsed
            assert request["time"].endswith("Z")
        except BaseException:
            listening.kill()
            raise

    # The server has stopped: listen says in one line that its subscription stays, and ends as usual.
    try:
        assert listening.stop() == 0
        assert listening.lines["stderr"][-1].startswith(f"could not delete subscription {sub_id}: cannot reach")
        stdout = listening.lines["stdout"]
        assert len(stdout) == 1 and all(json.loads(line) for line in stdout) and "\x1b" not in "".join(stdout)
    finally:
        listening.kill()


def test_trigger_json_without_a_server_reports_a_failed_delivery(
    main: Callable[..., Ran], make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver()
    receiver.respond(503)
    ran = main("trigger", "token.created", "--target", receiver.url, "--max-attempts", "1", "--format", "json")
    assert ran.code == 1, ran
    event, delivery = [json.loads(line) for line in ran.out.splitlines()]
    assert event["object"] == "event" and event["type"] == "basistheory:token.created"
    assert (delivery["status"], delivery["final"], delivery["http_status"], delivery["target"]) == (
        "dead",
        True,
        503,
        receiver.url,
    )
    assert delivery["outcome"].startswith("dead after 1 attempt, HTTP 503")


def test_trigger_json_not_waited_for_says_each_deliverys_id(main: Callable[..., Ran], tmp_path: Path) -> None:
    """`--wait 0` with a server prints the ids alone (README): in text a line each, in JSON the event's line, which
    held no delivery id, and nothing followed it."""
    with serving_api(tmp_path) as server, Receiver() as a, Receiver() as b:
        for receiver in (a, b):
            ran = main("subscriptions", "create", receiver.url, "--server", server.url)
            assert ran.code == 0, ran
        ran = main("trigger", "token.created", "--server", server.url, "--wait", "0", "--format", "json")
        assert ran.code == 0, ran
        [event] = [json.loads(line) for line in ran.out.splitlines()]
        assert event["object"] == "event" and len(event["deliveries"]) == 2
        listed = main("deliveries", "--server", server.url, "--json")
        assert listed.code == 0, listed
        assert set(event["deliveries"]) == {json.loads(line)["id"] for line in listed.out.splitlines()}
