"""The options of `webhook-sim listen`, read and checked into what it does with each request (`ListenOptions`)."""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from simulator import signing
from simulator.cli import listen_forward, listen_server, option_types, options
from simulator.errors import FieldError, InvalidInput


@dataclass(frozen=True)
class ListenOptions:
    """What `listen` does with each request."""

    secret: str | None = None
    public_pem: str | None = None
    status: int = 204
    delay: float = 0.0
    fail_rate: float = 0.0
    forward_to: str | None = None
    forward_deadline: float = listen_forward.FORWARD_DEADLINE  # seconds for the forwarded service's whole answer
    print_body: bool = False
    seed: int = 0
    reject_invalid: bool = False
    format: str = "text"  # or "json": one JSON object per request on stdout


def completed_url(text: str) -> str:
    """`--forward-to` completed as `stripe listen --forward-to` completes it: a port alone is localhost's
    (`3000`), a path alone is on localhost (`/hooks`), and an address without a scheme is http's
    (`localhost:3000/hooks`). One that names another scheme is left as it is, to be refused."""
    if text.isascii() and text.isdigit():
        text = f"localhost:{text}"
    if text.startswith("/"):
        text = f"localhost{text}"
    return text if "://" in text else f"http://{text}"


def options_from(args: argparse.Namespace) -> ListenOptions:
    """The options of `webhook-sim listen`, checked; `InvalidInput` (exit 2) for bad ones."""
    options.check_host(args.host)
    if not 0 <= args.fail_rate <= 1:
        raise _bad("--fail-rate", f"expected a fraction between 0 and 1, got {args.fail_rate}", args)
    if not 100 <= args.status <= 599:
        raise _bad("--status", f"expected an HTTP status, got {args.status}", args)
    if args.forward_to is not None and re.fullmatch(r"[+-]\d+", args.forward_to):
        # A port with a sign: completed, `-1` was the host "-1", and every request was answered 502.
        raise _bad("--forward-to", "the port must be a number from 1 to 65535", args)
    forward_to = None if args.forward_to is None else completed_url(args.forward_to)
    if forward_to is not None:
        from simulator.models.inputs import check_url

        try:
            check_url(forward_to)
        except ValueError as exc:
            raise _bad("--forward-to", str(exc), args) from None
        # check_url lets port 0 through (the API's URL pattern refuses it before): no service listens there, and
        # every request was answered 502.
        if urlsplit(forward_to).port == 0:
            raise _bad("--forward-to", "the port must be a number from 1 to 65535", args)
    listen_server.check(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    return ListenOptions(
        secret=args.secret or None,
        public_pem=_public_pem(args.public_key),
        status=args.status,
        delay=args.delay,
        fail_rate=args.fail_rate,
        forward_to=forward_to,
        print_body=args.print_body,
        seed=seed,
        reject_invalid=args.reject_invalid,
        format=args.format,
    )


def _public_pem(path: str | None) -> str | None:
    """The public key in a PEM file (of a public key, or of the private key whose half it is)."""
    if not path:
        return None
    try:
        text = option_types.small_file(path, "--public-key").decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("--public-key", f"{path} is not a PEM file (not text)") from None
    if "PRIVATE KEY" in text:
        return signing.SigningKey.from_pem(text).public_pem
    try:
        key = serialization.load_pem_public_key(text.encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _bad("--public-key", f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, RSAPublicKey):
        raise _bad("--public-key", f"{path} is not an RSA public key")
    return text


def _bad(option: str, message: str, args: argparse.Namespace | None = None) -> InvalidInput:
    where = options.from_environment(args, option) if args is not None else ""
    return InvalidInput(f"{option}: {message}{where}", errors=[FieldError(option, message + where)])
