"""`webhook-sim listen --server URL`: listen subscribes itself to a running server while it runs, as `stripe
listen` does.

At start it creates a subscription on that server whose URL is listen's own address (the port actually bound),
filtered by `--events` (default: every event), and verifies what arrives with that subscription's secret (the
answer that creates a subscription is the only one that holds it in full) and the server's public key (the one
`serve --signing-key` set, unless `--public-key` names another). When listen stops (Ctrl-C, SIGTERM) it deletes
the subscription, waiting a few seconds at most; a server gone by then is said in one line, and listen still
exits 0.

`--secret` with `--server` is refused (exit 2): the secret that verifies is the subscription's, and a second one
would make every check fail for a reason the output would not show. `--token`, `--events` and `--signing` without
`--server` are refused too: there is no server for them.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from simulator import catalog
from simulator.cli import option_types, options, remote
from simulator.client import ApiError
from simulator.errors import FieldError, InvalidInput, SimError
from simulator.models.enums import SIGNING_SCHEMES

# How long the subscription's deletion may take when listen stops: a person pressed Ctrl-C and waits.
DELETE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Subscribed:
    """The subscription listen made for itself, and what verifies its deliveries."""

    id: str
    server: str
    url: str
    events: tuple[str, ...]
    secret: str | None
    public_pem: str
    own_key: bool  # --public-key was given: it verifies Basis Theory signatures, not the server's key
    unsigned: bool = False  # --signing none: the subscription signs nothing, and nothing is verified

    def banner(self) -> list[str]:
        """The lines that say what was subscribed, ending in Stripe's "Ready!" line with the secret."""
        what = ", ".join(self.events) if self.events else "every event"
        secret = self.secret or "none (the subscription signs without one)"
        return [
            f"subscription {self.id} on {self.server} sends {what} to {self.url} (deleted when listen stops)",
            f"Ready! Your webhook signing secret is {secret} (^C to quit)",
        ]


def register(p: argparse.ArgumentParser) -> None:
    """`--server`, `--token` and `--events` on `listen`."""
    remote.add_server(p, None, " to subscribe this listener to while it runs (default: none)")
    options.add(
        p,
        "--events",
        "with --server: the event types to subscribe to, comma-separated (none: every event)",
        many=",",
        metavar="TYPE[,TYPE...]",
        type=option_types.some_types,
    )
    options.add(
        p,
        "--signing",
        "with --server: the subscription's signing scheme, e.g. standard for whsec_ secrets (default: each "
        "provider's own)",
        choices=SIGNING_SCHEMES,
    )


def check(args: argparse.Namespace) -> None:
    """Refuse the options that contradict each other; InvalidInput (exit 2) naming them."""
    if args.server and args.secret:
        message = (
            "give --secret or --server, not both (--secret may come from WEBHOOK_SIM_SECRET): with --server, "
            "listen verifies with the secret of the subscription it makes"
        )
        raise InvalidInput(message, errors=[FieldError("--secret", "with --server")])
    remote.refuse_token_without_server(args, "listen subscribes itself to no server")
    for option, given in (("--events", filters(args)), ("--signing", args.signing)):
        if given and not args.server:
            where = options.from_environment(args, option)
            message = f"{option}{where} needs --server: it shapes the subscription listen makes on that server"
            raise InvalidInput(message, errors=[FieldError(option, "needs --server")])
    for flt in filters(args):  # checked here as the server checks it, where the refusal can name the option
        try:
            catalog.validate_filter(flt)
        except SimError as exc:
            raise InvalidInput(f"--events: {exc.detail}", errors=[FieldError("--events", exc.detail)]) from None


def filters(args: argparse.Namespace) -> list[str]:
    """The `--events` filters: comma-separated, as `stripe listen --events` takes them, or repeated."""
    return [f.strip() for given in args.events for f in given.split(",") if f.strip()]


def own_url(host: str, port: int) -> str:
    """The URL the server delivers to: listen's own address; a wildcard one (0.0.0.0, ::) is reached on the
    loopback address, as the server cannot send to a wildcard."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def subscribe(args: argparse.Namespace, url: str) -> Subscribed:
    """Create listen's subscription on `args.server`; `RemoteError` (exit 1, or 2 for a value the server
    refuses) when the server cannot be reached or refuses."""
    events = filters(args)
    # A server that is not there, or not webhook-sim's, is said before anything is made (`remote.identified`).
    with remote.identified(args) as api:
        public_pem = api.public_key()
        # disable_after 0: a listener answering --status 500 on purpose must not be cut off after five deaths.
        made = api.create_subscription(url, events=events or None, signing=args.signing, disable_after=0)
    return Subscribed(
        id=made.id,
        server=args.server,
        url=url,
        events=tuple(events),
        secret=made.secret,
        public_pem=public_pem,
        own_key=bool(args.public_key),
        unsigned=made.signing == "none",
    )


def unsubscribe(args: argparse.Namespace, subscribed: Subscribed) -> str:
    """Delete listen's subscription; a line that says whether it went (never an error: listen is stopping)."""
    try:
        with remote.client(args, timeout=DELETE_TIMEOUT) as api, remote.speaking_to(args.server):
            try:
                api.delete_subscription(subscribed.id)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                return f"subscription {subscribed.id} was already deleted"
    except remote.RemoteError as exc:
        return f"could not delete subscription {subscribed.id}: {exc.detail}"
    return f"deleted subscription {subscribed.id}"
