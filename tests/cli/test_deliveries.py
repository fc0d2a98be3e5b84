"""`webhook-sim deliveries` and `resend` against a running server: lists, a live tail, redeliveries."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading

from simulator.testing.receiver import Receiver
from tests.api.harness import eventually
from tests.cli.conftest import TIMEOUT
from tests.ports import refused_port

NO_RETRY = {"delays": []}


def emit(api, type_: str = "token.created") -> dict:
    answer = api.post("/events", json={"type": type_})
    assert answer.status_code == 202, answer.text
    return answer.json()


def settled(api, delivery_id: str, status: str) -> None:
    eventually(lambda: api.get(f"/deliveries/{delivery_id}").json()["status"] == status, 20, f"{delivery_id} {status}")


def test_deliveries_lists_status_attempts_http_status_and_error(main, server, api, make_receiver):
    ok, failing = make_receiver(), make_receiver()
    failing.respond(503)
    gone = f"http://127.0.0.1:{refused_port()}/hooks"
    subs = [
        api.post("/subscriptions", json={"url": ok.url, "events": ["token.*"]}).json()["id"],
        api.post("/subscriptions", json={"url": failing.url, "events": ["token.*"], "retry": {"delays": [0]}}).json()[
            "id"
        ],
        api.post("/subscriptions", json={"url": gone, "events": ["token.created"], "retry": NO_RETRY}).json()["id"],
    ]
    emit(api)
    emit(api, "token.updated")

    def of(sub: str) -> list[str]:
        return [d["id"] for d in api.get("/deliveries", params={"subscription": sub}).json()["data"]]

    (good, _), (bad, bad_too), [refused] = of(subs[0]), of(subs[1]), of(subs[2])
    settled(api, good, "succeeded")
    for delivery in (bad, bad_too, refused):
        settled(api, delivery, "dead")

    ran = main("deliveries", "--server", server.url)
    assert ran.code == 0, ran
    header, *lines = ran.out.splitlines()
    assert len(lines) == 5
    by_id = {line.split()[1]: line for line in lines}
    assert by_id[good].split()[2:6] == ["token.created", "succeeded", "1", "204"]
    assert by_id[bad].split()[2:6] == ["token.created", "dead", "2", "503"]
    assert by_id[refused].split()[2:6] == ["token.created", "dead", "1", "-"]
    assert by_id[refused].endswith("connection refused")
    for title in ("delivery", "type", "status", "tries", "http"):  # the header names the column below it
        column = header.index(title)
        assert by_id[good][column - 1 : column] in ("", " "), title
        assert by_id[good][column] != " ", title

    ran = main("deliveries", "--server", server.url, "--status", "dead", "--json")
    assert ran.code == 0
    assert sorted(json.loads(line)["id"] for line in ran.out.splitlines()) == sorted([bad, bad_too, refused])
    ran = main("deliveries", "--server", server.url, "--limit", "2")
    assert len(ran.out.splitlines()) == 3 and "3 earlier deliveries not shown; --limit 0 shows all" in ran.err


def test_deliveries_of_a_missing_run_or_a_bad_filter(main, server):
    ran = main("deliveries", "--server", server.url, "--run", "run_nope")
    assert ran.code == 0 and ran.out == "" and "no deliveries" in ran.err
    ran = main("deliveries", "--server", server.url, "--type", "token.craeted")
    assert ran.code == 2 and "token.created" in ran.err


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


def test_follow_prints_new_deliveries_and_their_changes_until_ctrl_c(server, api, receiver: Receiver):
    retry = {"delays": [1] * 10}
    api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"], "retry": retry})
    [before] = emit(api)["deliveries"]
    settled(api, before, "succeeded")
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "deliveries", "--follow", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WEBHOOK_SIM_SERVER": server.url},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()

    def wait_for(delivery: str, text: str) -> str:
        while True:
            line = lines.get(timeout=TIMEOUT)
            if delivery in line and text in line:
                return line

    try:
        wait_for(before, " succeeded ")  # listed: the command now follows
        receiver.respond(500)
        [delivery] = emit(api)["deliveries"]
        failed = wait_for(delivery, " failed ")  # its first attempt failed; it waits for a retry
        assert " 500 " in failed and "retry at" in failed
        receiver.respond(204)
        assert wait_for(delivery, " succeeded ").split()[5] == "204"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
    assert "Traceback" not in err


def test_resend_one_delivery_after_the_receiver_recovers(main, server, api, receiver: Receiver):
    receiver.respond(500)
    api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"], "retry": NO_RETRY})
    [delivery] = emit(api)["deliveries"]
    settled(api, delivery, "dead")
    receiver.respond(204)
    ran = main("resend", delivery, "--server", server.url)
    assert ran.code == 0, ran
    # The attempts of a delivery add up over its resends.
    assert ran.out == f"delivery {delivery} (token.created): succeeded after 2 attempts, HTTP 204\n"
    assert [r.status for r in receiver.requests] == [500, 204]
    assert receiver.requests[0].event_ids == receiver.requests[1].event_ids  # the same event again


def test_resend_dead_sends_every_dead_delivery_of_a_subscription(main, server, api, receiver: Receiver):
    receiver.respond(500)
    sub = api.post("/subscriptions", json={"url": receiver.url, "events": ["token.*"], "retry": NO_RETRY}).json()
    ids = [emit(api)["deliveries"][0] for _ in range(2)]
    for delivery in ids:
        settled(api, delivery, "dead")
    ran = main("resend", "--dead", "--subscription", sub["id"], "--server", server.url)
    assert ran.code == 1, ran  # still failing
    assert ran.out.splitlines()[0] == f"resent 2 dead deliveries of {sub['id']}"
    for delivery in ids:
        assert f"delivery {delivery} (token.created): dead after 2 attempts, HTTP 500\n" in ran.out
    assert "2 of 2 did not succeed" in ran.err
    receiver.respond(204)
    ran = main("resend", "--dead", "--subscription", sub["id"], "--server", server.url)
    assert ran.code == 0, ran
    assert ran.out.count("succeeded after 3 attempts, HTTP 204\n") == 2


def test_resend_refusals(main, server, api):
    assert main("resend", "--server", server.url).code == 2
    ran = main("resend", "--dead", "--server", server.url)
    assert ran.code == 2 and "--dead needs --subscription ID" in ran.err
    ran = main("resend", "msg_nope", "--server", server.url)
    assert ran.code == 2 and "no delivery 'msg_nope'" in ran.err
    ran = main("resend", "--dead", "--subscription", "sub_nope", "--server", server.url)
    assert ran.code == 2 and "sub_nope" in ran.err
