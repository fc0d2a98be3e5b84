"""`webhook-sim subscriptions` against a running server: what it makes is what the control API holds, the secret it
prints verifies what the receiver gets, and refusals name what was wrong."""

from __future__ import annotations

import json

from standardwebhooks import Webhook

from tests.api.harness import eventually
from tests.ports import refused_port


def test_create_list_disable_enable_and_delete_act_on_the_server(main, server, api, make_receiver):
    receiver = make_receiver()
    ran = main(
        "subscriptions", "create", receiver.url, "--server", server.url,
        "--events", "token.created,token.updated", "--signing", "standard", "--max-in-flight", "4", "--strict-order",
    )  # fmt: skip
    assert ran.code == 0, ran
    secret = ran.out.splitlines()[-1].removeprefix("signing secret: ")
    sub_id = ran.out.splitlines()[1].split()[0]
    held = api.get(f"/subscriptions/{sub_id}").json()
    assert (held["url"], held["events"], held["signing"]) == (
        receiver.url,
        ["token.created", "token.updated"],
        "standard",
    )
    assert (held["max_in_flight"], held["strict_order"], held["enabled"]) == (4, True, True)

    # The printed secret is the one the deliveries are signed with.
    api.post("/events", json={"type": "token.created"})
    eventually(lambda: len(receiver.requests) == 1, 20, "the delivery")
    request = receiver.requests[0]
    Webhook(secret).verify(request.body, dict(request.headers))

    ran = main("subscriptions", "list", "--server", server.url)
    assert ran.code == 0, ran
    header, line = ran.out.splitlines()
    assert header.split()[:3] == ["id", "status", "signing"]
    assert line.split()[:3] == [sub_id, "enabled", "standard"]
    assert line.split()[-1] == "token.created,token.updated"

    ran = main("subscriptions", "disable", sub_id, "--server", server.url)
    assert ran.code == 0 and api.get(f"/subscriptions/{sub_id}").json()["enabled"] is False, ran
    ran = main("subscriptions", "enable", sub_id, "--server", server.url, "--json")
    assert ran.code == 0 and json.loads(ran.out)["enabled"] is True, ran
    assert api.get(f"/subscriptions/{sub_id}").json()["enabled"] is True

    ran = main("subscriptions", "delete", sub_id, "--server", server.url)
    assert ran.code == 0 and ran.out.strip() == f"deleted {sub_id}", ran
    assert api.get(f"/subscriptions/{sub_id}").status_code == 404
    ran = main("subscriptions", "list", "--server", server.url, "--json")
    assert ran.code == 0 and ran.out == "", ran


def test_show_masks_the_secret_and_redeliver_sends_the_dead_again(main, server, api, make_receiver):
    receiver = make_receiver()
    receiver.respond(503)
    sub = api.post("/subscriptions", json={"url": receiver.url, "retry": {"delays": []}}).json()
    delivery = api.post("/events", json={"type": "token.created"}).json()["deliveries"][0]
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "dead", 20, "a dead delivery")

    ran = main("subscriptions", "show", sub["id"], "--server", server.url)
    assert ran.code == 0, ran
    shown = json.loads(ran.out)
    assert shown["id"] == sub["id"] and shown["secret"] != sub["secret"]

    receiver.respond(204)
    ran = main("subscriptions", "redeliver", sub["id"], "--server", server.url)
    assert ran.code == 0, ran
    assert ran.out.splitlines() == [f"1 dead delivery of {sub['id']} sent again", f"  {delivery}"]
    eventually(lambda: api.get(f"/deliveries/{delivery}").json()["status"] == "succeeded", 20, "sent again")


def test_refusals_name_what_was_wrong(main, server, make_receiver):
    url = make_receiver().url
    ran = main("subscriptions", "create", url, "--server", server.url, "--events", "token.craeted")
    assert ran.code == 2 and "token.craeted" in ran.err, ran
    ran = main("subscriptions", "create", "not a url", "--server", server.url)
    assert ran.code == 2 and "url" in ran.err, ran
    ran = main("subscriptions", "delete", "sub_nope", "--server", server.url)
    assert ran.code == 2 and "sub_nope" in ran.err, ran
    ran = main("subscriptions", "list", "--server", f"http://127.0.0.1:{refused_port()}")
    assert ran.code == 1 and "cannot reach the control API" in ran.err, ran
