"""The receiving side of a delivery: a request as it arrived, and the check of its signature whatever scheme signed
it. Used by `listen`, by the test receiver and by consumers' tests; pure, no server here."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator import json_input, signing
from simulator.errors import InvalidInput

Verifier = Callable[[dict[str, str], bytes], tuple[bool, str]]
SIGNATURE_HEADERS = {"webhook-signature": "standard", "bt-signature": "basistheory", "request-signature": "syncfy"}


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    verified: bool | None = None
    reason: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_ids(self) -> list[str]:
        """The provider event ids this request carries (Syncfy `eid`s or the Basis Theory `event.id`); none
        for a body that is not such a webhook, however it is malformed."""
        try:
            return event_ids_of(json_input.loads(self.body))
        except json_input.NotJson:
            return []


def event_ids_of(data: Any) -> list[str]:
    """The provider event ids of a parsed body (none where it is not such a webhook)."""
    if isinstance(data, dict) and isinstance(data.get("events"), list):
        eids = (dig(e, "header", "event", "eid") for e in data["events"])
        return [eid for eid in eids if isinstance(eid, str)]
    event_id = dig(data, "event", "id")
    return [event_id] if isinstance(event_id, str) else []


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]…`, or None where a level is missing or not an object (a hostile body's shape)."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def detect_scheme(headers: Mapping[str, str]) -> str:
    """The signing scheme a request carries, from its headers (`none` when it is unsigned)."""
    names = {name.lower() for name in headers}
    return next((scheme for header, scheme in SIGNATURE_HEADERS.items() if header in names), "none")


def refused(verified: bool | None, scheme: str) -> bool:
    """Whether a consumer that checks signatures refuses a request (`listen --reject-invalid`, a receiver's
    `reject_invalid`): its signature does not verify, or it carries none (`scheme`, as `detect_scheme` found it)."""
    return verified is False or scheme == "none"


def make_verifier(scheme: str = "auto", secret: str | None = None, public_pem: str | None = None) -> Verifier:
    """A check of one request's signature: `(ok, reason)`. `scheme="auto"` detects it per request, and an
    unsigned request fails it (a check that passed unsigned requests would miss a missing signature; `"none"`
    takes them); `secret` serves `standard` and `syncfy`, `public_pem` (default: the development key)
    `basistheory`."""
    if scheme not in ("auto", *signing.SCHEMES):
        raise ValueError(f"unknown scheme {scheme!r}")
    if scheme in ("standard", "syncfy"):
        signing.validate_secret(scheme, secret)

    def verify(headers: dict[str, str], body: bytes) -> tuple[bool, str]:
        used = detect_scheme(headers) if scheme == "auto" else scheme
        if scheme == "auto" and used == "none":
            return False, "unsigned: no signature header (the scheme `none` takes unsigned requests)"
        if used in ("standard", "syncfy") and secret is None:
            return False, f"{used} signature, but no secret to verify it"
        try:
            result = signing.verify(used, headers, body, secret=secret, public_pem=public_pem)
        except InvalidInput as exc:  # a secret of the other HMAC scheme's form
            return False, exc.detail
        return result.ok, result.reason

    return verify


def verifier_for(spec: tuple[str, str | None] | str) -> Verifier:
    """The verifier of a `verify=(scheme, secret_or_pem)` option: a PEM value is a public key. A scheme alone
    (`verify="basistheory"`) has no secret, and the development key."""
    if isinstance(spec, str):
        spec = (spec, None)
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise TypeError(f"verify takes (scheme, secret_or_pem) or a scheme, got {spec!r}")
    scheme, value = spec
    if not isinstance(scheme, str) or not (value is None or isinstance(value, str)):
        raise TypeError(f"verify takes (scheme, secret_or_pem) as strings, got {spec!r}")
    # Said of `verify`, as a test passes it: "unknown scheme" alone named no argument, and a refused secret was
    # an InvalidInput, which a test expecting the ValueError of a bad value does not catch.
    try:
        if value is not None and value.lstrip().startswith("-----BEGIN"):
            return make_verifier(scheme, public_pem=value)
        return make_verifier(scheme, secret=value)
    except InvalidInput as exc:
        raise ValueError(f"verify: {exc.detail}") from None
    except ValueError as exc:
        raise ValueError(f"verify: {exc}") from None
