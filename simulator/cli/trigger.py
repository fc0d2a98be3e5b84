"""`webhook-sim trigger TYPE`: one event now, as `stripe trigger` sends one, and the outcome of its delivery.

Through a running server (`--server`) it goes to the matching subscriptions, the `--subscription`s named, or
`--target`; without a server it is built and delivered in this process, to `--target`. `--override path=value`
sets a field of the event; each is checked against the event's JSON Schema before anything is sent. It prints the
event's id and each delivery's id at once, then each delivery's outcome as it ends (and the state of the others
when `--wait` runs out, on Ctrl-C or on SIGTERM); exit 0 when every delivery succeeded (or, with `--wait 0`, was
made), 1 when one did not, 2 for bad input, 130 after Ctrl-C, 143 after SIGTERM. `--format json` prints the same
as JSON Lines: an `event` object, then a `delivery` object for each delivery as it ends (notes go to stderr, as in
text).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from simulator import catalog, signing
from simulator.cli import option_types, options, remote, retries
from simulator.cli.trigger_report import Report
from simulator.client import ApiError, Client, DeliveryInfo
from simulator.errors import FieldError, InvalidInput, quoted
from simulator.models import formats
from simulator.models.enums import SIGNING_SCHEMES
from simulator.models.target_rules import check_native_secret

if TYPE_CHECKING:  # imported where used: `trigger --server` needs neither
    from simulator.core.simulator import Simulator
    from simulator.models import Delivery

FORMATS = ("text", "json")
RESUME = "`webhook-sim deliveries` shows how they end; `webhook-sim resend ID` sends one again"
LAST_LOOK = 2.0  # seconds the read after Ctrl-C may take


def register(sub: Any) -> None:
    p = sub.add_parser(
        "trigger",
        help="send one event now and print how its delivery went",
        description=__doc__.split("\n\n", 1)[1].replace("\n", " ") if __doc__ else None,
    )
    p.add_argument("type", help="an event type (`provider:type`, or bare when unambiguous)")
    options.add(
        p, "--override", "set a field of the event: a dotted path and a JSON value", many=";", metavar="PATH=VALUE"
    )
    options.add(p, "--target", "deliver to this URL", type=option_types.webhook_url)
    options.add(p, "--subscription", "deliver to this subscription (with --server)", many=",", metavar="ID")
    options.add(p, "--seed", "the seed of the event's values (default: a random one)", type=option_types.seed)
    options.add(
        p, "--signing", "with --target: the signing scheme (default: the provider's own)", choices=SIGNING_SCHEMES
    )
    options.add(
        p, "--secret", "with --target: the signing secret (default: a generated one, printed)", type=option_types.secret
    )
    retries.add(p)
    options.add(
        p, "--wait", "seconds to wait for the outcome (0: do not wait)", default=30.0, type=option_types.seconds
    )
    remote.add_server(p, None, " (default: none, deliver from this process)")
    options.add(p, "--format", "text, or JSON Lines on stdout", default="text", choices=FORMATS, type=str.lower)
    p.set_defaults(handler=trigger_command)


def parse_overrides(items: list[str], where: str = "") -> dict[str, Any]:
    """`path=value` pairs; a value is read as JSON (`0`, `true`, `{"a": 1}`, `"007"`), else as a string
    (`option_types.json_value`: the same refusals with or without `--server`), and a path given twice is refused
    as the control API refuses an `overrides` object naming it twice. `where`: `options.from_environment`'s."""
    out: dict[str, Any] = {}
    for item in items:
        path, sep, text = item.partition("=")
        path = path.strip()
        if not sep or not path:
            raise InvalidInput(
                f"--override {quoted(item)}: expected PATH=VALUE, e.g. payload.is_executing=0",
                errors=[FieldError("--override", "expected PATH=VALUE")],
            )
        if not re.fullmatch(formats.OVERRIDE_PATH, path):  # checked here, where the refusal can name the option
            problem = f"expected {formats.OVERRIDE_PATH_SAYS}"
            raise InvalidInput(f"--override {quoted(path)}: {problem}", errors=[FieldError("--override", problem)])
        if path in out:
            raise options.repeated_key("--override", path, "path", where)
        out[path] = option_types.json_value(text, f"--override {path}")
    return out


def check(args: argparse.Namespace) -> tuple[catalog.EventType, dict[str, Any]]:
    """The event type and the overrides as given; the catalog checks them against the event's schema when it
    builds the event, here or in the server, before anything is sent."""
    etype = catalog.resolve(args.type)
    overrides = parse_overrides(args.override, options.from_environment(args, "--override"))
    if args.subscription and args.target:
        raise InvalidInput(
            "give --target or --subscription, not both", errors=[FieldError("--target", "with --subscription")]
        )
    if args.secret is not None:
        option_types.check_secret(args.signing, args.secret)
        try:  # as a server refuses it: here it was dropped without a word
            check_native_secret(etype.provider, args.target, args.signing, args.secret)
        except InvalidInput:
            message = (
                f"a Basis Theory event is signed with the provider's key, which takes no secret"
                f"{options.from_environment(args, '--secret')}: leave --secret out (verify with the public key), "
                "or give --signing standard or syncfy to sign with it"
            )
            raise InvalidInput(f"--secret: {message}", errors=[FieldError("--secret", message)]) from None
    return etype, overrides


def trigger_command(args: argparse.Namespace) -> int:
    etype, overrides = check(args)
    retry = retries.retry_spec(args, etype.provider)
    if args.server:
        _refuse_without_target(args)
        return _through_server(args, etype, overrides, retry)
    if args.subscription:
        raise InvalidInput(
            "--subscription needs --server: subscriptions live in a running server",
            errors=[FieldError("--subscription", "needs --server")],
        )
    remote.refuse_token_without_server(args, "trigger delivers the event from this process")
    if not args.target:
        raise InvalidInput(
            "--target is required without --server (or set WEBHOOK_SIM_TARGET)",
            errors=[FieldError("--target", "required")],
        )
    if args.wait == 0:
        raise InvalidInput(
            "--wait 0 needs --server: without one this process makes the delivery, which would end with it",
            errors=[FieldError("--wait", "0 needs --server")],
        )
    from simulator.runtime import run_loop

    return run_loop(_in_process(args, etype, overrides, retry))


# -- through a server -----------------------------------------------------------------------------------------

# What says how a delivery is signed and retried: through a server, a subscription of its own made for --target.
DELIVERY_OPTIONS = ("--signing", "--secret", "--max-attempts", "--retry-delays")


def _refuse_without_target(args: argparse.Namespace) -> None:
    """Refuse the options of `DELIVERY_OPTIONS` through `--server` without `--target` (InvalidInput, exit 2,
    naming them): the event then goes to subscriptions that sign and retry as each was made, and the options
    were ignored without a word. A value from the environment alone is left alone, as `--token`'s is: `run` and
    `listen` read the same variables, and a shell that exports them for those still triggers to its subscriptions."""
    given = [flag for flag in DELIVERY_OPTIONS if options.given_on_command_line(args, flag)]
    if args.target or not given:
        return
    named = " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 1 else given)
    need = "needs" if len(given) == 1 else "need"
    raise InvalidInput(
        f"{named} {need} --target: through --server without it, the event goes to the server's subscriptions, "
        "which sign and retry as each was made: give --target URL for a delivery made with them",
        errors=[FieldError(flag, f"{need} --target") for flag in given],  # said once, in the line above
    )


def _through_server(
    args: argparse.Namespace, etype: catalog.EventType, overrides: dict[str, Any], retry: dict[str, Any] | None
) -> int:
    with remote.identified(args) as api, _terminated_as_interrupt():
        fields: dict[str, Any] = {"seed": args.seed}
        secret = args.secret
        if args.subscription:
            fields["subscriptions"] = list(args.subscription)
        elif args.target:
            # The event's own target, which the server sends this event alone (never a later one, as a subscription
            # made for it was sent every later event of its type once this command had ended). A secret it would
            # generate is never shown: one made here is, where a scheme was asked for that takes one.
            scheme = args.signing or catalog.get_provider(etype.provider).native_signing
            if secret is None and (args.signing or retry) and scheme in ("syncfy", "standard"):
                secret = signing.new_secret(scheme)
            fields.update(target=args.target, signing=args.signing, secret=secret, retry=retry)
        report: Report | None = None
        # One guard from the request on: a SIGTERM between two of these steps (the event made, its lines printed,
        # the wait begun) ended the command with a traceback.
        try:
            event = api.emit(etype.key, overrides, **fields)
            report = Report(
                event.id, event.type, event.deliveries, args.target, args.format, named=bool(args.subscription)
            )
            if args.target and not args.subscription:
                _say_secret(args, etype, secret)
            for skipped in event.skipped:
                print(f"not sent to {skipped.subscription}: {skipped.reason}", file=sys.stderr)
            report.begin(args.wait)
            _watch(api, report, args.wait)
        except (KeyboardInterrupt, _Terminated) as stop:
            if report is None:  # before the event existed: nothing to say
                if isinstance(stop, KeyboardInterrupt):
                    raise
                return 143
            _last_look(args, report)
            report.end(why="interrupted; the server goes on delivering it")
            print(RESUME, file=sys.stderr)
            return 143 if isinstance(stop, _Terminated) else 130
        if args.wait:  # `--wait 0` says each delivery's id alone: its state is not waited for
            report.end()
        return 0 if args.wait == 0 and report.ids else report.code()


class _Terminated(Exception):
    """SIGTERM (how CI cancels a step) while waiting on the server: ended as Ctrl-C is, state printed."""


@contextmanager
def _terminated_as_interrupt() -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second one ends the command at once
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _watch(api: Client, report: Report, timeout: float) -> None:
    """Read the deliveries until each is final or `timeout` seconds have passed, printing each as it ends."""
    if timeout == 0 or not report.ids:
        return
    deadline = time.monotonic() + timeout
    interval = 0.02
    while True:
        report.seen(api.get_delivery(i) for i in report.ids if i not in report.told)
        left = deadline - time.monotonic()
        if len(report.told) == len(report.ids) or left <= 0:
            return
        time.sleep(min(interval, left))
        interval = min(interval * 1.5, 0.5)


def _last_look(args: argparse.Namespace, report: Report) -> None:
    """After Ctrl-C: read the deliveries once more, briefly, so the state printed is the latest (the last look of
    the wait may be half a second old). A server that does not answer at once is not waited for."""
    try:
        with remote.client(args, timeout=LAST_LOOK) as api:
            report.seen([api.get_delivery(i) for i in report.ids if i not in report.told])
    except (KeyboardInterrupt, ApiError, httpx.HTTPError, ValueError):
        return  # what the wait last read is printed


# -- in this process ------------------------------------------------------------------------------------------


async def _in_process(
    args: argparse.Namespace, etype: catalog.EventType, overrides: dict[str, Any], retry: dict[str, Any] | None
) -> int:
    from simulator.api.views import delivery as delivery_view
    from simulator.core.simulator import Simulator
    from simulator.models.inputs import EventSpec, SubscriptionSpec, parse

    spec = parse(
        SubscriptionSpec,
        {"url": args.target, "signing": args.signing, "secret": args.secret, "disable_after": 0, "retry": retry},
    )
    sim = await Simulator.open(None)
    loop, main = asyncio.get_running_loop(), asyncio.current_task()
    termed: list[bool] = []

    def on_term() -> None:  # SIGTERM, how CI cancels a step, ends it as Ctrl-C does: state printed, store removed
        termed.append(True)
        if main is not None:
            main.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_term)
    try:
        sub = await sim.create_subscription(spec, ephemeral=True)
        fields = {"type": etype.key, "overrides": overrides, "subscriptions": [sub.id], "seed": args.seed}
        event, ids = await sim.emit(parse(EventSpec, fields))  # a bad override is exit 2 naming it
        _say_secret(args, etype, sub.secret)
        # Its retries end with this process: a delivery still going is said to have none to come.
        report = Report(event.id, event.key, ids, args.target, args.format, retries=False)
        report.begin(args.wait)

        async def read() -> list[Delivery]:
            found = [await sim.delivery(i) for i in ids]
            report.seen(DeliveryInfo.of(delivery_view(d, attempts=True)) for d in found)
            return found

        interrupted = False
        try:
            deadline = time.monotonic() + args.wait
            while len(report.told) < len(ids) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
                await read()
        except asyncio.CancelledError:  # Ctrl-C: what is known is printed, then the run ends with 130
            interrupted = True
            _uncancel()
        under_way = await _cut_short(sim, await read())
        if under_way:
            await read()  # the attempts cut short, as recorded
        report.end(under_way=under_way, why="interrupted" if interrupted else "")
        if interrupted and not report.all_final():
            print("interrupted: its retries end with this process (with --server, a server's go on)", file=sys.stderr)
        elif not report.all_final():
            print("its retries end with this process; give --max-attempts or a longer --wait", file=sys.stderr)
        if interrupted:
            return 143 if termed else 130
        return report.code()
    except asyncio.CancelledError:
        if not termed:
            raise  # Ctrl-C before the event existed: nothing to say
        _uncancel()
        return 143
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        await sim.close(grace=1)


def _uncancel() -> None:
    """Take back the cancel a Ctrl-C made (`asyncio.Runner` cancels the main task), so the waits of the cleanup
    that follows run as usual; the runner still ends with KeyboardInterrupt."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def _cut_short(sim: Simulator, found: list[Delivery]) -> frozenset[str]:
    """When the wait ends with deliveries not final: stop sending, and record each attempt still waiting for its
    answer as interrupted (the receiver may have the request). Read without this, an attempt under way was shown
    as no attempt at all. The deliveries whose attempt was under way (`found` is read again by the caller)."""
    if all(d.status in remote.FINAL for d in found):
        return frozenset()
    sim.engine.stopping = True  # what is cut short from here on is recorded as interrupted (see `Outcomes`)
    await asyncio.gather(*(lane.close(0) for lane in list(sim.engine.lanes.values())))
    await sim.store.writer.barrier()
    after = [await sim.delivery(d.id) for d in found]
    cut = {a.id for a, b in zip(after, found, strict=True) if a.attempts > b.attempts and _interrupted(a)}
    return frozenset(cut)


def _interrupted(d: Delivery) -> bool:
    """Whether the delivery's last attempt was cut short (recorded on the attempt: the delivery stays due)."""
    last = d.attempt_log[-1] if d.attempt_log else None
    return last is not None and last.status_code is None and (last.error or "").startswith("interrupted:")


def _say_secret(args: argparse.Namespace, etype: catalog.EventType, secret: str | None) -> None:
    """Print the secret made for the delivery, where its scheme signs with one: Basis Theory's own signs with the
    simulator's RSA key, and a secret said for it sent its users looking for where to set it."""
    scheme = args.signing or catalog.get_provider(etype.provider).native_signing
    if args.secret is None and secret and scheme in ("syncfy", "standard"):
        print(f"signed with a generated secret: {secret}", file=sys.stderr)
