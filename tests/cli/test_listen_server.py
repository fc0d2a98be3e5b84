"""`webhook-sim listen --server URL` subscribes itself to a running server, as `stripe listen` does: a subscription
to its own address, filtered by `--events`, whose secret (and the server's key) verify what arrives; deleted when
listen stops. A server it cannot reach, or that refuses its token, is one line and exit 1."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from simulator.api.app import server_app
from simulator.signing import SigningKey, mask_secret
from tests.api.harness import ApiServer, serving_api
from tests.cli.conftest import Ran
from tests.cli.listen_process import ListenProcess
from tests.ports import refused_port

TOKEN = "listen-test-token"


@pytest.fixture
def keyed_server(tmp_path: Path) -> Iterator[ApiServer]:
    """A server with a token and a signing key of its own: the development key would not verify its Basis Theory
    signatures, so a listener that verifies them has the server's key."""
    app = server_app(str(tmp_path / "api.db"), key=SigningKey.generate(), token=TOKEN, grace=1)
    server = ApiServer(app).start()
    try:
        yield server
    finally:
        server.stop()


def test_listen_subscribes_verifies_with_its_secret_and_unsubscribes_on_ctrl_c(keyed_server: ApiServer) -> None:
    events = "token.created,credentials.created"
    listening = ListenProcess("--server", keyed_server.url, "--token", TOKEN, "--port", "0", "--events", events)
    try:
        [ready] = listening.wait_for("stdout", r"ready on http://127\.0\.0\.1:(\d+)$")
        [made] = listening.wait_for("stdout", r"^subscription (sub_\S+) on ")
        [said] = listening.wait_for("stdout", r"^Ready! Your webhook signing secret is (\S+) \(\^C to quit\)$")
        sub_id, secret = made.group(1), said.group(1)
        with keyed_server.client(TOKEN) as api:
            sub = api.get(f"/subscriptions/{sub_id}").json()
            # Its own address, the port --port 0 bound; the filter given; the secret it printed (masked here).
            assert sub["url"] == f"http://127.0.0.1:{ready.group(1)}/"
            assert sub["events"] == ["token.created", "credentials.created"]
            assert sub["secret"] == mask_secret(secret) and sub["disable_after"] == 0

            ids = {}
            for etype in ("token.created", "credentials.created"):  # Basis Theory's RSA scheme, Syncfy's HMAC one
                emitted = api.post("/events", json={"type": etype})
                assert emitted.status_code == 202, emitted.text
                ids[etype] = emitted.json()["id"]
            filtered = api.post("/events", json={"type": "credentials.updated"}).json()
            assert filtered["deliveries"] == []  # --events left it out

            for etype, scheme in (("token.created", "basistheory"), ("credentials.created", "syncfy")):
                [line] = listening.wait_for("stdout", rf"{ids[etype]}.*")
                assert re.search(rf"\s204\s+✓ {scheme}$", line.string), line.string

            assert listening.stop() == 0
            assert f"deleted subscription {sub_id}" in listening.lines["stdout"]
            assert api.get(f"/subscriptions/{sub_id}").status_code == 404
            assert api.get("/subscriptions").json()["data"] == []
        assert listening.lines["stderr"] == []
    finally:
        listening.kill()


def test_a_server_not_there_or_refusing_the_token_is_one_line_and_exit_1(
    main: Callable[..., Ran], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{refused_port()}"
    ran = main("listen", "--server", url, "--port", "0")
    assert ran.code == 1, ran
    assert ran.err == f"error: cannot reach the control API at {url}: connection refused " + (
        "(is `webhook-sim serve` running there?)\n"
    )
    with serving_api(tmp_path, token=TOKEN) as server:
        ran = main("listen", "--server", server.url, "--token", "wrong", "--port", "0")
        assert ran.code == 1, ran
        assert ran.err.count("\n") == 1 and "401" in ran.err and "token" in ran.err, ran
        # The same refusal ends `trigger` alike: a token is no malformed value.
        assert main("trigger", "token.created", "--server", server.url, "--token", "wrong").code == 1
        with server.client(TOKEN) as api:
            assert api.get("/subscriptions").json()["data"] == []


def test_secret_with_server_and_events_without_it_exit_2_naming_them(
    main: Callable[..., Ran], server: ApiServer
) -> None:
    ran = main("listen", "--server", server.url, "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--port", "0")
    assert ran.code == 2 and "--secret" in ran.err and "--server" in ran.err, ran
    ran = main("listen", "--events", "token.*", "--port", "0")
    assert ran.code == 2 and "--events needs --server" in ran.err, ran
    ran = main("listen", "--signing", "standard", "--port", "0")
    assert ran.code == 2 and "--signing needs --server" in ran.err, ran
    ran = main("listen", "--server", server.url, "--events", "nope.nothing", "--port", "0")
    assert ran.code == 2 and "unknown event type 'nope.nothing'" in ran.err, ran
    with server.client() as api:
        assert api.get("/subscriptions").json()["data"] == []  # nothing was made


def test_signing_asks_the_subscription_for_a_scheme(server: ApiServer) -> None:
    """`--signing standard`: a `whsec_` secret, as Stripe's, and Standard Webhooks headers on every provider's event."""
    listening = ListenProcess("--server", server.url, "--port", "0", "--signing", "standard")
    try:
        [said] = listening.wait_for("stdout", r"^Ready! Your webhook signing secret is (\S+) \(\^C to quit\)$")
        assert said.group(1).startswith("whsec_")
        with server.client() as api:
            [sub] = api.get("/subscriptions").json()["data"]
            assert sub["signing"] == "standard"
            event = api.post("/events", json={"type": "credentials.created"}).json()["id"]
        [line] = listening.wait_for("stdout", rf"{event}.*")
        assert re.search(r"\s204\s+✓ standard$", line.string), line.string
        assert listening.stop() == 0
    finally:
        listening.kill()
