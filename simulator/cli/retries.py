"""`--max-attempts` and `--retry-delays`: bounds on retries for CI, shared by `run` and `trigger`.

A provider's own schedule retries for hours (Syncfy's last retry comes 37 hours after the first attempt); a CI step
wants a verdict in seconds, so these turn into the `retry` of the subscription the command delivers to.
"""

from __future__ import annotations

import argparse
from typing import Any

from simulator import catalog
from simulator.cli import option_types, options
from simulator.errors import FieldError, InvalidInput, quoted
from simulator.timeutil import parse_duration

MAX_RETRIES = 50  # a subscription's retry schedule holds at most this many waits


def add(p: argparse.ArgumentParser, *, scaled: bool = False) -> None:
    """`--max-attempts` and `--retry-delays`; `scaled`: the command has a `--speed` that scales the delays."""
    when = "simulated time, scaled by --speed" if scaled else "real seconds"
    options.add(
        p,
        "--max-attempts",
        "at most this many attempts per delivery (1: no retry; default: the provider's schedule)",
        type=option_types.integer,
    )
    options.add(
        p,
        "--retry-delays",
        f"the waits before each retry, e.g. 0,1s,5s ({when}; default: the provider's schedule); with "
        "--max-attempts, the last wait repeats for the retries the list leaves",
        type=option_types.nonempty,  # an empty value was taken as no value: the provider's schedule, unsaid
    )


def retry_spec(args: argparse.Namespace, provider: str) -> dict[str, Any] | None:
    """The `retry` of the subscription (None: the provider's own schedule); InvalidInput (exit 2) for bad
    values. `--max-attempts` alone keeps the first delays of `provider`'s schedule."""
    # A value from the environment is refused naming its variable too, as the options read while parsing are.
    where = {flag: options.from_environment(args, flag) for flag in ("--max-attempts", "--retry-delays")}
    delays = _delays(args.retry_delays, where["--retry-delays"]) if args.retry_delays else None
    if args.max_attempts is None:
        return None if delays is None else {"delays": delays, "jitter": 0.0}  # the waits asked for, exactly
    if args.max_attempts < 1:
        raise _bad("--max-attempts", f"expected a whole number >= 1, got {args.max_attempts}{where['--max-attempts']}")
    if delays is None:
        policy = catalog.get_provider(provider).retry_policy
        return {"delays": list(policy.delays[: args.max_attempts - 1]), "jitter": policy.jitter}
    retries = args.max_attempts - 1
    if retries > MAX_RETRIES:
        raise _bad(
            "--max-attempts",
            f"at most {MAX_RETRIES + 1} with --retry-delays, got {args.max_attempts}{where['--max-attempts']}",
        )
    # The last wait repeats for the retries the list leaves: `--max-attempts 5 --retry-delays 0` made 2 attempts.
    delays += [delays[-1]] * (retries - len(delays))
    return {"delays": delays[:retries], "jitter": 0.0}


def _delays(text: str, where: str) -> list[float]:
    out = []
    for item in text.split(","):
        shown = f"{quoted(item.strip())}{where}"
        try:
            seconds = parse_duration(item.strip())
        except ValueError:
            raise _bad("--retry-delays", f"{shown} is not a duration (e.g. 0, 500ms, 2s, 5m)") from None
        if not 0 <= seconds <= 86_400 * 7:
            raise _bad("--retry-delays", f"{shown}: expected between 0 and 7 days")
        out.append(seconds)
    if len(out) > MAX_RETRIES:
        raise _bad("--retry-delays", f"at most {MAX_RETRIES} retries{where}")
    return out


def _bad(option: str, message: str) -> InvalidInput:
    return InvalidInput(f"{option}: {message}", errors=[FieldError(option, message)])
