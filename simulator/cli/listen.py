"""`webhook-sim listen`: a receiver for local development that prints and verifies what arrives.

Each request becomes one line: arrival time, provider, event type(s), event id(s), the delivery id (the
`webhook-id` header, or the `jti` of a Syncfy JWT; Basis Theory's own scheme carries none) and the signature
check. The scheme is read from the headers: `webhook-signature` is checked as Standard Webhooks with `--secret`,
`BT-SIGNATURE` with `--public-key` (default: the simulator's development key), `request-signature` as Syncfy
with `--secret`.

It answers `--status` after `--delay` seconds; `--fail-rate` answers that fraction of requests with 500 instead
(drawn from `--seed`, printed so a session can be replayed), so the sender's retries can be watched, and
`--reject-invalid` answers 401 to a request whose signature does not verify, or that carries none, as a real
consumer would, so a `bad_signature` fault is retried. With `--forward-to URL` each request's exact body and
headers are relayed to that URL and its answer is returned, as `stripe listen --forward-to` does. With
`--server URL` it subscribes itself to a running server for as long as it runs, as `stripe listen` does (see
`listen_server`).

`--format json` prints each request as one JSON object on stdout (JSON Lines, see `listen_lines.record`); the banner and
other notes then go to stderr, so stdout stays parseable.

A request still waiting for the forwarded service's answer, or in its `--delay`, when `listen` stops is answered
503 by `listen` saying so, printed and counted like the others (see `server_for`).

When the reader of its output goes away (`listen | head -1`), `listen` stops at the next line it cannot print: that
request is answered all the same, the `--server` subscription deleted, and the exit status 141 (see `handle`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import errno
import hashlib
import logging
import random
import socket
import sys
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

import httpx
import uvicorn
from rich.console import Console
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from simulator import json_input, signing
from simulator.cli import listen_forward, listen_server, option_types, options
from simulator.cli.listen_lines import Arrival, PipeConsole, body_text, header, json_line, text_line
from simulator.cli.listen_options import ListenOptions, options_from
from simulator.credentials import mask_url
from simulator.errors import InvalidInput
from simulator.receiving import detect_scheme, dig, event_ids_of, refused
from simulator.runtime import Server, bind_tcp, stop_signals_end_quietly
from simulator.waiting import set_within

log = logging.getLogger("webhook_sim.listen")

# Hop-by-hop headers belong to one connection; they are never relayed (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
SEEN_KEPT = 100_000
KEPT = 1000  # a session can run for days; only the latest arrivals are kept in memory
FORMATS = ("text", "json")


def describe(headers: dict[str, str], body: bytes) -> tuple[str, tuple[str, ...], tuple[str, ...], str | None]:
    """Provider, event types, event ids and delivery id of a request (`?` where the body is not recognised)."""
    try:
        data = json_input.loads(body)
    except json_input.NotJson:
        data = None
    ids = tuple(event_ids_of(data))
    provider: str = "?"
    types: tuple[str, ...] = ("?",)
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        provider = "syncfy"
        types = tuple(str(dig(e, "header", "event", "name") or "?") for e in data["events"])
    elif isinstance(data, dict) and isinstance(data.get("event"), dict):
        provider, types = "basistheory", (str(data["event"].get("type", "?")),)
    return provider, types, ids, _delivery_id(headers)


def _digest(body: bytes) -> str:
    """A body's name where it names no events (the draws of --fail-rate are per event)."""
    return hashlib.sha256(body).hexdigest()[:24]


def _delivery_id(headers: dict[str, str]) -> str | None:
    if headers.get("webhook-id"):
        return headers["webhook-id"]
    parts = headers.get("request-signature", "").split(".")
    if len(parts) != 3:
        return None
    try:  # read, not trusted: the signature check is separate
        claims = json_input.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:  # not base64 (binascii.Error), or not JSON (NotJson)
        return None
    return str(claims.get("jti")) if isinstance(claims, dict) and claims.get("jti") else None


Check = tuple[str, bool | None, str]


def check(headers: dict[str, str], body: bytes, secret: str | None, public_pem: str | None) -> Check:
    """The scheme a request is signed with, whether it verifies, and why not."""
    scheme = detect_scheme(headers)
    if scheme == "none":
        return scheme, None, "unsigned"
    if scheme != "basistheory" and secret is None:
        return scheme, None, "no --secret to verify with"
    try:
        result = signing.verify(scheme, headers, body, secret=secret, public_pem=public_pem)
    except InvalidInput as exc:  # a secret in the other scheme's form
        return scheme, False, exc.detail
    return scheme, result.ok, result.reason


@dataclass
class Listener:
    """The `listen` application; `arrivals` keeps the last `KEPT` requests, in order."""

    options: ListenOptions
    console: Console = field(default_factory=Console)
    arrivals: deque[Arrival] = field(default_factory=lambda: deque(maxlen=KEPT))
    out: TextIO | None = None  # where `--format json` writes (None: stdout as it is when a request arrives)

    def __post_init__(self) -> None:
        self._http: httpx.AsyncClient | None = None
        self._seen: OrderedDict[str, int] = OrderedDict()
        self.counts: Counter[str] = Counter()  # of the whole session, for the line said when it stops
        self._failed_with: set[int] = set()  # the statuses a forward that failed was answered with
        self._stopping: asyncio.Event | None = None  # set when the server starts to stop
        self.output_closed = False  # a line could not be written: its reader went away, and listen stops

    def stop(self) -> None:
        """The server stops: a forward or a `--delay` under way ends now, answered 503 (on the server's loop)."""
        if self._stopping is not None:
            self._stopping.set()

    def _stopped(self) -> bool:
        return self._stopping is not None and self._stopping.is_set()

    async def _waited(self, seconds: float) -> bool:
        """Whether `seconds` passed; False as soon as the server stops."""
        if self._stopping is None:
            await asyncio.sleep(seconds)
            return True
        return not await set_within(self._stopping, seconds)

    def _arrived_before(self, key: str) -> int:
        """How many times `key` arrived before this request (the oldest keys are forgotten past a bound)."""
        count = self._seen.get(key, 0)
        self._seen[key] = count + 1
        if len(self._seen) > SEEN_KEPT:
            self._seen.popitem(last=False)
        return count

    def _fails(self, key: str) -> bool:
        """Whether --fail-rate fails this request. A draw of its own for each arrival of a path and its events:
        a seeded run fails the same attempts of the same deliveries whatever order they arrive in (a single
        sequence of draws gave each retry the draw of whatever came before it, and a run could go `dead`)."""
        count = self._arrived_before(f"draw {key}")
        return random.Random(f"{self.options.seed}/{key}/{count}").random() < self.options.fail_rate

    def app(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            self._stopping = asyncio.Event()
            async with httpx.AsyncClient(timeout=30.0) as client:
                # Only the sender's headers are forwarded: the client's own (`Accept`, `Accept-Encoding`,
                # `Connection`) reached the service as if the provider had sent them.
                client.headers.clear()
                self._http = client
                yield

        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["POST", "PUT"])], lifespan=lifespan)

    async def handle(self, request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:
            # The sender went before its body arrived, or sent one HTTP cannot read (uvicorn says which): no
            # request to show or count, and no traceback for it.
            log.warning("a %s to %s ended before its body arrived: not shown", request.method, request.url.path)
            return Response(status_code=400)
        headers = dict(request.headers)
        scheme, verified, reason = check(headers, body, self.options.secret, self.options.public_pem)
        provider, types, ids, delivery_id = describe(headers, body)
        seen = delivery_id or ",".join(ids)  # a retry or a duplicate is marked `again`
        again = bool(seen) and self._arrived_before(f"seen {seen}") > 0
        if self.options.reject_invalid and refused(verified, scheme):
            response, note = Response(status_code=401), "rejected"
        elif self.options.fail_rate and self._fails(f"{request.url.path} {','.join(ids) or _digest(body)}"):
            response, note = Response(status_code=500), "fail-rate"
        else:
            response, note = await self._answer(request, body)
            if self.options.forward_to is not None:  # relayed, or answered 502/503/504 saying why it was not
                failed = note.startswith("forward failed")
                self.counts["forward failed" if failed else "forwarded"] += 1
                if failed:
                    self._failed_with.add(response.status_code)
        self.counts["received"] += 1
        self.counts[{True: "verified", False: "failed", None: "unchecked"}[verified]] += 1
        # Stopping, listen delays nothing: a delay ending after uvicorn's graceful timeout had the request cancelled.
        if self.options.delay and not self._stopped() and not await self._waited(self.options.delay):
            body_text = "listen: stopped during --delay, before answering\n"
            response = Response(body_text, status_code=503, media_type="text/plain")
            note = f"{note} stopped during --delay".strip()
        problem = malformed(body, provider)
        if problem:
            note = f"{note} {problem}".strip()
        if again:
            note = f"again {note}".strip()
        arrival = Arrival(
            time.time(),
            provider,
            types,
            ids,
            delivery_id,
            scheme,
            verified,
            reason,
            response.status_code,
            note,
            headers,
            body,
            request.method,
            request.url.path,
        )
        self.arrivals.append(arrival)
        try:
            self.show(arrival, body)
        except BrokenPipeError:
            # The reader went away (`listen | head -1`). The answer stands: it is what listen decided, or what the
            # forwarded service answered, and a 500 for listen's own output would fail a delivery that arrived
            # (and send it again to a subscription about to be deleted). listen stops (see `_Server.on_tick`).
            self.output_closed = True
        return response

    async def _answer(self, request: Request, body: bytes) -> tuple[Response, str]:
        """The answer: the forwarded service's answer, or `--status`."""
        if self.options.forward_to is None:
            return Response(status_code=self.options.status), ""
        return await self._forward(request, body)

    async def _forward(self, request: Request, body: bytes) -> tuple[Response, str]:
        assert self._http is not None and self.options.forward_to is not None
        relayed = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP]
        relay = (request.method, self.options.forward_to, body, relayed)
        return await listen_forward.forward(self._http, relay, self.options.forward_deadline, self._stopping)

    def summary(self) -> str:
        """The session in one line: requests received, verified, failed verification, forwarded."""
        n = self.counts
        line = f"{n['received']} request{'s' if n['received'] != 1 else ''} received: {n['verified']} verified, "
        line += f"{n['failed']} failed verification"
        if n["unchecked"]:
            line += f", {n['unchecked']} not checked"
        if self.options.forward_to is not None:
            line += f", {n['forwarded']} forwarded"
            if n["forward failed"]:
                statuses = [str(status) for status in sorted(self._failed_with)]
                answered = " or ".join([", ".join(statuses[:-1]), statuses[-1]] if len(statuses) > 1 else statuses)
                line += f", {n['forward failed']} not forwarded (answered {answered})"
        return line

    def show(self, arrival: Arrival, body: bytes) -> None:
        """Print a request; `BrokenPipeError` when its reader went away (see `PipeConsole`)."""
        if self.options.format == "json":
            stream = self.out or sys.stdout
            stream.write(json_line(arrival) + "\n")
            stream.flush()
            return
        self.console.print(text_line(arrival), highlight=False, soft_wrap=True)
        if self.options.print_body:
            self.console.print(body_text(body), highlight=False, soft_wrap=True)


def malformed(body: bytes, provider: str) -> str | None:
    """Why a body is not a webhook `listen` can read (None when it is one)."""
    if provider != "?":
        return None
    try:
        json_input.loads(body)
    except json_input.NotJson as exc:
        return f"malformed: the body is not JSON ({exc})"
    return "malformed: neither a Syncfy nor a Basis Theory body"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "listen",
        help="a receiver that prints and verifies what arrives",
        description="Receive webhooks, print one line each and check their signatures.",
    )
    # Variables of its own where `serve`'s options share a name and mean another thing (see `options.add`).
    mine = "WEBHOOK_SIM_LISTEN_"
    options.add(p, "--host", "the address to listen on", default="127.0.0.1", variable=mine + "HOST")
    options.add(p, "--port", "the port to listen on", default=9000, type=option_types.port, variable=mine + "PORT")
    options.add(p, "--secret", "the secret that checks standard and syncfy signatures", type=option_types.secret)
    options.add(p, "--public-key", "PEM file for Basis Theory signatures (default: the development key)")
    options.add(
        p, "--status", "the HTTP status to answer", default=204, type=option_types.integer, variable=mine + "STATUS"
    )
    options.add(p, "--delay", "seconds to wait before answering", default=0.0, type=option_types.seconds)
    options.add(
        p,
        "--fail-rate",
        "the fraction of requests answered 500, drawn for each attempt",
        default=0.0,
        type=option_types.decimal,
    )
    options.add(
        p,
        "--forward-to",
        "relay each request to this URL and answer with its answer (as Stripe's: `3000` is http://localhost:3000, "
        "`localhost:3000/hooks` is http://…)",
    )
    options.add(p, "--print-body", "print each body", default=False, flag_only=True)
    options.add(
        p,
        "--reject-invalid",
        "answer 401 when a signature is missing or does not verify (so it is retried)",
        flag_only=True,
    )
    seeds = "the seed of --fail-rate's draws, one for each attempt at an event (default: a random one, printed)"
    options.add(p, "--seed", seeds, type=option_types.seed, variable=mine + "SEED")
    options.add(
        p,
        "--format",
        "text, or JSON Lines on stdout (notes on stderr)",
        default="text",
        choices=FORMATS,
        type=str.lower,
    )
    listen_server.register(p)
    p.set_defaults(handler=listen_command)


def _banner(
    console: Console, url: str, options: ListenOptions, subscribed: listen_server.Subscribed | None = None
) -> None:
    console.print(f"webhook-sim listen: ready on [bold]{url}[/]", highlight=False)
    if subscribed is not None:
        checks = "standard and syncfy with the subscription's secret"
        key = "--public-key" if subscribed.own_key else "the server's key"
    else:
        checks = "standard and syncfy with --secret" if options.secret else "no --secret: standard and syncfy unchecked"
        key = "--public-key" if options.public_pem else "the development key"
    if subscribed is not None and subscribed.unsigned:
        # It said it verified standard and syncfy with the subscription's secret, then that there was none.
        console.print("verifying nothing: the subscription signs nothing (--signing none)", highlight=False)
    else:
        console.print(f"verifying {checks}; basistheory with {key}", highlight=False)
    if options.forward_to:
        console.print(f"forwarding to {mask_url(options.forward_to)}", highlight=False)
    if options.fail_rate:
        console.print(f"failing {options.fail_rate:.0%} with 500 (seed {options.seed})", highlight=False)
    if options.reject_invalid:
        console.print("answering 401 to requests unsigned or whose signature does not verify", highlight=False)
    if subscribed is not None:
        for line in subscribed.banner():
            console.print(line, highlight=False)
    if options.format == "text":
        console.print(f"[dim]{header()}[/]", highlight=False)


class _Server(Server):
    """The server, which tells its listener first when it starts to stop (`before_stopping`), and stops when the
    listener's output was closed."""

    def __init__(self, config: uvicorn.Config, listener: Listener) -> None:
        super().__init__(config, before_stopping=listener.stop)
        self.listener = listener

    async def on_tick(self, counter: int) -> bool:
        # Checked every 0.1 s by uvicorn's main loop: a closed output stops listen as Ctrl-C does.
        return await super().on_tick(counter) or self.listener.output_closed


def server_for(listener: Listener) -> uvicorn.Server:
    """The server of `listener`. When it stops (Ctrl-C, SIGTERM) the listener is told at once, so a request still
    waiting for the forwarded service or in its `--delay` is answered 503 within uvicorn's graceful timeout
    (after it, uvicorn cancelled the request: a traceback on stderr, its 500 to the sender, and the request
    missing from the output and the summary)."""
    config = uvicorn.Config(
        listener.app(),
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    return _Server(config, listener)


def listen_command(args: argparse.Namespace) -> int:
    """Run `listen` until Ctrl-C. `args`: host, port, secret, public_key, status, delay, fail_rate, forward_to,
    print_body, seed, format, server, token, events. Returns 0 after a stop, 1 when it could not listen or reach
    the server (bad options raise `InvalidInput`, a refusal of the server `RemoteError`, a closed output
    `BrokenPipeError`); its subscription is deleted whichever way it ends."""
    options = options_from(args)
    # In JSON mode stdout carries the requests alone: everything said to a person goes to stderr.
    console = PipeConsole(highlight=False, soft_wrap=True, stderr=options.format == "json")
    try:
        sock = bind_tcp(args.host, args.port)
    except OSError as exc:  # an error, on stderr as every other (stdout holds what arrived)
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]  # the port bound: --port 0 picks one
    shown = f"[{args.host}]" if ":" in args.host else args.host
    subscribed = None
    try:
        if args.server:
            subscribed = listen_server.subscribe(args, listen_server.own_url(args.host, port))
            options = replace(options, secret=subscribed.secret, public_pem=options.public_pem or subscribed.public_pem)
        return _serve(console, sock, f"http://{shown}:{port}", options, subscribed)
    finally:
        sock.close()  # uvicorn closed it if it ran
        if subscribed is not None:  # left behind (say the banner failed), it sent every event to a dead port
            console.print(listen_server.unsubscribe(args, subscribed), highlight=False)


def _serve(
    console: Console, sock: socket.socket, url: str, options: ListenOptions, subscribed: listen_server.Subscribed | None
) -> int:
    """The banner, then the server on `sock` until it stops, then the session's line; the exit status."""
    _banner(console, url, options, subscribed)
    listener = Listener(options, console)
    server = server_for(listener)
    with stop_signals_end_quietly():
        server.run(sockets=[sock])
    if server.started:
        console.print(listener.summary(), highlight=False)
    if listener.output_closed:  # ended as every command whose reader went away (see `commands.main`)
        raise BrokenPipeError(errno.EPIPE, "the reader of listen's output went away")
    return 0 if server.started else 1
