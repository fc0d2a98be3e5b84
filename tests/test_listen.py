"""`webhook-sim listen`: a real listener receiving real signed deliveries from a Simulator."""

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from simulator import cli, signing
from simulator.cli import commands
from simulator.cli.listen import Listener
from simulator.cli.listen_options import ListenOptions, options_from
from simulator.core.simulator import Simulator
from simulator.errors import InvalidInput
from simulator.models.inputs import RunSpec, SubscriptionSpec
from simulator.scenarios import loader
from simulator.testing import AppServer, make_verifier, signing_secret
from simulator.testing.receiver import Receiver
from tests.api.harness import eventually

ONE_EVENT = (
    "name: listen-one-event\nprovider: syncfy\ndescription: One credential.\nsteps:\n  - emit: credentials.created\n"
)


class Running:
    def __init__(self, listener: Listener, url: str, out: io.StringIO) -> None:
        self.listener, self.url, self.out = listener, url, out

    @property
    def arrivals(self) -> list:
        return list(self.listener.arrivals)

    def lines(self) -> list[str]:
        return self.out.getvalue().splitlines()


@pytest.fixture
def listen() -> Iterator[Callable[..., Running]]:
    servers: list[AppServer] = []

    def start(**options: object) -> Running:
        out = io.StringIO()
        listener = Listener(ListenOptions(**options), Console(file=out, width=300, color_system=None))
        server = AppServer().start(listener.app(), lifespan="on")
        servers.append(server)
        return Running(listener, server.url + "/webhooks", out)

    yield start
    for server in servers:
        server.stop()


async def run(sim: Simulator, url: str, scenario: str = "syncfy-credential-lifecycle", **fields: object) -> tuple:
    """Run `scenario` at speed 0 against `url`; the finished run and its deliveries with their attempts."""
    fields.setdefault("params", {"refreshes": 0} if scenario == "syncfy-credential-lifecycle" else {})
    loaded = loader.load_file(scenario) if scenario.endswith(".yaml") else None  # a file: the CLI's way to name one
    name = loaded.name if loaded is not None else scenario
    started = await sim.runs.start(RunSpec(scenario=name, target=url, speed=0, seed=1, **fields), scenario=loaded)
    done = await sim.runs.wait(started.id, timeout=20)
    found = await sim.store.list_deliveries(run_id=started.id)
    return done, [await sim.delivery(d.id) for _, d in found]


CASES = {
    "standard": ("syncfy-credential-lifecycle", "syncfy"),
    "syncfy": ("syncfy-credential-lifecycle", "syncfy"),
    "basistheory": ("basistheory-token-lifecycle", "basistheory"),
}


@pytest.mark.parametrize("scheme", list(CASES))
async def test_each_scheme_is_verified_and_tampering_is_shown(scheme, sim, listen):
    scenario, provider = CASES[scheme]
    secret = signing_secret(scheme)
    listening = listen(secret=secret)
    done, deliveries = await run(sim, listening.url, scenario, signing=scheme, secret=secret)
    assert done.status == "completed"
    events = await sim.store.run_events(done.id, 100, None)
    arrivals = listening.arrivals
    assert [(a.scheme, a.verified, a.reason, a.status) for a in arrivals] == [(scheme, True, "ok", 204)] * done.events
    assert [a.event_ids for a in arrivals] == [(e.id,) for e in events]
    assert [a.types for a in arrivals] == [(e.type,) for e in events]
    assert {a.provider for a in arrivals} == {provider}
    expected_ids = [None] * len(deliveries) if scheme == "basistheory" else [d.id for d in deliveries]
    assert [a.delivery_id for a in arrivals] == expected_ids
    assert all(f"✓ {scheme}" in line for line in listening.lines()[-done.events :])

    tampered, _ = await run(sim, listening.url, scenario, signing=scheme, secret=secret, faults={"bad_signature": 1.0})
    late = listening.arrivals[done.events :]
    assert len(late) == tampered.events
    assert [(a.verified, a.reason) for a in late] == [(False, "signature mismatch")] * tampered.events
    assert all(f"✗ {scheme} (signature mismatch)" in line for line in listening.lines()[-tampered.events :])


async def test_a_wrong_or_missing_secret_is_reported(sim, listen):
    wrong = listen(secret=signing_secret("standard"))
    missing = listen()
    for listening in (wrong, missing):
        await run(sim, listening.url, signing="standard", secret=signing_secret("standard"))
    assert {(a.verified, a.reason) for a in wrong.arrivals} == {(False, "signature mismatch")}
    assert {(a.verified, a.reason) for a in missing.arrivals} == {(None, "no --secret to verify with")}
    assert "? standard (no --secret to verify with)" in missing.lines()[0]


async def test_fail_rate_makes_real_retries_and_replays_with_its_seed(sim, listen):
    by_event = []
    for _ in range(2):
        listening = listen(fail_rate=0.5, seed=7)
        # The same run twice: seed and start time fixed, the same events (ids included) arrive again.
        done, deliveries = await run(sim, listening.url, params={"refreshes": 2}, start_time="2026-01-01T00:00:00Z")
        assert done.status == "completed" and {d.status for d in deliveries} == {"succeeded"}
        codes = [a.status_code for d in deliveries for a in d.attempt_log]
        assert sorted(codes) == sorted(a.status for a in listening.arrivals)
        assert codes.count(500) >= 1 and codes.count(204) == done.events
        answers: dict[tuple[str, ...], list[int]] = {}
        for a in listening.arrivals:
            answers.setdefault(a.event_ids, []).append(a.status)
        by_event.append(answers)
        assert {line.endswith("fail-rate") for line in listening.lines() if " 500 " in line} == {True}
        # A retry is marked: every delivery that failed once arrives again.
        retried = {a.delivery_id for a in listening.arrivals if a.status == 500}
        assert {a.delivery_id for a in listening.arrivals if a.note.startswith("again")} == retried
    assert by_event[0] == by_event[1]  # each event's attempts failed alike, whatever order they arrived in


def test_fail_rate_draws_each_attempt_of_each_event_whatever_the_order_of_arrival(listen):
    """A seeded listener fails the same attempts of the same events whichever order they arrive in: a run whose
    retries interleave differently from one time to the next replays its failures (and never goes `dead` on one
    time and not the other)."""
    bodies = [json.dumps({"event": {"id": f"evt-{i}", "type": "token.created"}}).encode() for i in range(40)]
    # Each event three times (its first attempt and two retries): each event's in a row, then in rounds, forwards
    # and backwards.
    rounds = [b for _ in range(3) for b in bodies]
    orders = [[b for b in bodies for _ in range(3)], rounds, [b for _ in range(3) for b in reversed(bodies)]]
    seen = []
    for order in orders:
        listening = listen(fail_rate=0.5, seed=3)
        with httpx.Client(timeout=10) as client:
            for body in order:
                client.post(listening.url, content=body, headers={"content-type": "application/json"})
        answers: dict[tuple[str, ...], list[int]] = {}
        for a in listening.arrivals:
            answers.setdefault(a.event_ids, []).append(a.status)
        seen.append(answers)
    assert len(seen[0]) == 40 and {500, 204} <= {s for statuses in seen[0].values() for s in statuses}
    assert seen[0] == seen[1] == seen[2]


async def test_an_error_status_exhausts_the_retries(sim, listen, tmp_path: Path):
    (tmp_path / "one.yaml").write_text(ONE_EVENT)
    listening = listen(status=503)
    _, [delivery] = await run(sim, listening.url, str(tmp_path / "one.yaml"))
    assert delivery.status == "dead"
    assert [a.status_code for a in delivery.attempt_log] == [a.status for a in listening.arrivals] == [503] * 8


async def test_delay_makes_a_short_timeout_expire(sim, listen):
    listening = listen(delay=0.5)
    sub = await sim.create_subscription(SubscriptionSpec(url=listening.url, timeout=0.1, retry={"delays": []}))
    started = await sim.runs.start(
        RunSpec(scenario="syncfy-credential-lifecycle", subscriptions=[sub.id], speed=0, params={"refreshes": 0})
    )
    await sim.runs.wait(started.id, timeout=20)
    found = await sim.store.list_deliveries(run_id=started.id)
    assert {(d.status, d.last_error) for _, d in found} == {("dead", "timeout after 0.1s")}


async def test_forward_to_relays_the_exact_request_and_returns_the_answer(sim, listen):
    secret = signing_secret("standard")
    with Receiver(verifier=make_verifier("standard", secret)) as service:
        service.respond(202)
        listening = listen(secret=secret, forward_to=service.url)
        done, deliveries = await run(sim, listening.url, signing="standard", secret=secret)
        assert done.status == "completed"
        assert [a.status_code for d in deliveries for a in d.attempt_log] == [202] * done.events
        relayed = service.requests
        assert [r.body for r in relayed] == [a.body for a in listening.arrivals]
        assert all(r.verified for r in relayed)
        names = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "user-agent")
        for got, sent in zip(relayed, listening.arrivals, strict=True):
            assert {n: got.headers[n] for n in names} == {n: sent.headers[n] for n in names}
    gone = listen(forward_to=service.url)  # the service has stopped
    await run(sim, gone.url, faults={}, params={"refreshes": 0}, signing="none")
    assert {a.status for a in gone.arrivals} == {502} and gone.arrivals[0].note.startswith("forward failed")
    assert "connection refused by" in gone.arrivals[0].note, gone.arrivals[0].note
    said = gone.listener.summary()  # a failed forward is not counted as forwarded
    assert said.endswith(f", 0 forwarded, {len(gone.arrivals)} not forwarded (answered 502)"), said


def test_bad_options_exit_2(capsys, tmp_path: Path):
    assert cli.main(["listen", "--fail-rate", "1.5"]) == 2
    assert "--fail-rate: expected a fraction between 0 and 1" in capsys.readouterr().err
    (tmp_path / "key.pem").write_text("not a key")
    assert cli.main(["listen", "--public-key", str(tmp_path / "key.pem")]) == 2
    assert cli.main(["listen", "--forward-to", "ftp://localhost:3000"]) == 2
    assert "--forward-to" in capsys.readouterr().err
    assert cli.main(["listen", "--forward-to", "localhost:99999/hooks"]) == 2  # completed, then checked
    assert "--forward-to" in capsys.readouterr().err


@pytest.mark.parametrize(
    "given", ["http://bücher.test/hooks", "٣٠٠٠", "localhost:3000/héllo", "http://ｌocalhost:3000"]
)
def test_a_forward_to_not_in_ascii_is_refused_naming_the_option(given: str) -> None:
    """A subscription's URL must be ASCII (RFC 3986, the document's pattern): `listen` held a forward URL to less,
    and `--forward-to ٣٠٠٠` (Arabic-Indic digits) forwarded to a host of that name, answered 502 each time."""
    args = commands.parser("listen").parse_args(["listen", "--forward-to", given])
    with pytest.raises(InvalidInput) as refused:  # what `listen` says as exit 2, before it serves
        options_from(args)
    assert "--forward-to" in str(refused.value) and "must be ASCII" in str(refused.value), refused.value


@pytest.mark.parametrize(
    ("given", "relayed_to"),
    [
        ("3000", "http://localhost:3000"),
        ("/hooks", "http://localhost/hooks"),
        ("localhost:3000/hooks", "http://localhost:3000/hooks"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://example.test/hooks", "https://example.test/hooks"),
        ("http://localhost:3000/hooks", "http://localhost:3000/hooks"),
    ],
)
def test_forward_to_is_completed_as_stripe_listen_completes_it(given: str, relayed_to: str) -> None:
    """`stripe listen --forward-to localhost:3000/hooks` is the habit: it was exit 2 for want of a scheme."""
    args = commands.parser("listen").parse_args(["listen", "--forward-to", given])
    assert options_from(args).forward_to == relayed_to


def test_the_command_prints_verified_requests_and_stops_on_ctrl_c():
    secret = signing_secret("standard")
    env = {**os.environ, "WEBHOOK_SIM_SECRET": secret}
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "listen", "--port", "0", "--print-body"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner = proc.stdout.readline()
        url = re.search(r"ready on (http://\S+)", banner).group(1)
        body = b'{"event":{"id":"evt_1","type":"token.created"}}'
        headers = signing.sign("standard", msg_id="msg_1", timestamp=int(time.time()), body=body, secret=secret)
        assert httpx.post(url + "/hooks", content=body, headers=headers).status_code == 204
        lines = [proc.stdout.readline() for _ in range(7)]  # the banner's rest, the request, its body
        line = next(text for text in lines if "evt_1" in text)
        assert re.search(r"basistheory\s+token.created\s+evt_1\s+msg_1\s+204\s+✓ standard", line), line
        assert '"type": "token.created"' in "".join(lines)  # --print-body
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.communicate()


HOSTILE = [
    ({}, b'{"events": [1, 2]}', "syncfy"),
    ({}, b'{"events": [{"header": "x"}]}', "syncfy"),
    ({}, b'{"event": {"type": 5}}', "basistheory"),
    ({}, b"[" * 100_000 + b"]" * 100_000, "?"),
    ({}, b'{"n": ' + b"9" * 5000 + b"}", "?"),
    ({"request-signature": "a.b.c"}, b'{"events": []}', "syncfy"),
    ({"request-signature": "a.e30.c"}, b"{}", "?"),
    ({"bt-signature": "t=1,v1=zz", "bt-signature-version": "v1"}, b'{"event": {}}', "basistheory"),
]


@pytest.mark.parametrize(("headers", "body", "provider"), HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_request_is_answered_and_shown_never_a_500(
    listen: Callable[..., Running], headers: dict[str, str], body: bytes, provider: str
) -> None:
    secret = signing_secret("syncfy")
    running = listen(secret=secret, print_body=True)
    response = httpx.post(running.url, content=body, headers=headers, timeout=10)
    assert response.status_code == 204, response.text  # listen's default answer
    (arrival,) = running.arrivals
    assert arrival.provider == provider and arrival.body == body
    if provider == "?":
        assert "malformed" in arrival.note


@pytest.mark.parametrize(
    "cut",
    [b'Content-Length: 1000\r\n\r\n{"events": [', b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"],
    ids=["hang-up", "bad-chunk"],
)
def test_a_request_whose_body_never_arrives_is_said_in_a_line_not_a_traceback(
    listen: Callable[..., Running], cut: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing to show or count, and the next request is shown as usual: it used to print uvicorn's 'Exception in
    ASGI application' and a traceback among listen's lines."""
    running = listen()
    port = int(running.url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\n" + cut)
    said = "a POST to /webhooks ended before its body arrived: not shown"
    eventually(lambda: said in caplog.text, what="listen's line")
    assert httpx.post(running.url, content=b'{"event": {}}', timeout=10).status_code == 204
    assert len(running.arrivals) == 1 and running.listener.counts["received"] == 1
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@pytest.mark.parametrize("number", ["1e400", "1e-400"])
def test_a_number_a_double_cannot_hold_does_not_hide_the_event(listen: Callable[..., Running], number: str) -> None:
    """`listen` reads a webhook, whatever it holds: the twins refuse such numbers as input, a receiver does not."""
    running = listen()
    body = b'{"event": {"id": "e1", "type": "token.created", "data": {"n": %s}}}' % number.encode()
    assert httpx.post(running.url, content=body, headers={"Content-Type": "application/json"}).status_code == 204
    (arrival,) = running.arrivals
    assert (arrival.provider, arrival.event_ids) == ("basistheory", ("e1",)) and "malformed" not in arrival.note


class OddStatus:
    """A service that answers every request with a status line HTTP allows no status in (h11 reads any three
    digits), on a real socket."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                with conn:
                    conn.settimeout(5)
                    conn.recv(65536)
                    conn.sendall(f"HTTP/1.1 {self.status} Odd\r\nContent-Length: 2\r\n\r\nok".encode())

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


@pytest.mark.parametrize("status", [600, 999])
def test_a_forwarded_answer_with_no_http_status_is_a_502_saying_so(listen, status: int):
    """A service that answered 999 had `listen` relay it: the ASGI server refused the status and the sender got
    a dropped connection, told nothing."""
    service = OddStatus(status)
    try:
        listening = listen(forward_to=service.url)
        answer = httpx.post(listening.url, content=b'{"event": {"id": "evt_1"}}', timeout=10)
        assert answer.status_code == 502, answer.text
        assert f"answered {status}" in answer.text and "100-599" in answer.text, answer.text
        assert listening.arrivals[0].note.startswith("forward failed"), listening.arrivals[0].note
        assert httpx.post(listening.url, content=b"{}", timeout=10).status_code == 502  # still serving
    finally:
        service.close()
