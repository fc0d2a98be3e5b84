"""What a run, an event or a schedule asks of its `signing`, `secret`, `max_in_flight` and `target`, as checks and as
the JSON Schema the OpenAPI document states them in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from simulator import signing
from simulator.errors import FieldError, InvalidInput
from simulator.models import formats

if TYPE_CHECKING:
    from simulator.models.inputs import EventSpec, RunSpec


def secret_rules(signing_field: str = "signing", secret_field: str = "secret") -> dict[str, Any]:
    """The JSON Schema of what `signing.validate_secret` asks of a secret, scheme by scheme (null: generated)."""
    absent_or = [{"type": "null"}]
    return {
        "anyOf": [
            {
                "properties": {
                    signing_field: {"enum": [None, "syncfy"]},
                    secret_field: {"anyOf": [*absent_or, {"type": "string", "pattern": formats.SYNCFY_SECRET}]},
                }
            },
            {
                "required": [signing_field],
                "properties": {
                    signing_field: {"const": "standard"},
                    secret_field: {"anyOf": [*absent_or, {"type": "string", "pattern": formats.STANDARD_SECRET}]},
                },
            },
            {
                "required": [signing_field],
                "properties": {
                    signing_field: {"enum": ["basistheory", "none"]},
                    secret_field: {"enum": [None, ""]},
                },
            },
        ]
    }


# `target` is instead of `subscriptions`: given both, the subscriptions named were passed over, silently.
TARGET_ALONE: dict[str, Any] = {
    "not": {
        "required": ["target", "subscriptions"],
        "properties": {"target": {"not": {"type": "null"}}, "subscriptions": {"not": {"type": "null"}}},
    }
}


# How a target is signed and sent to is said with it; without one, each subscription signs and sends as it was made.
# Given without a target they were dropped: `signing: none` to try an unsigned path delivered signed bodies.
TARGET_ONLY_DEFAULTS: dict[str, Any] = {"signing": None, "secret": None, "max_in_flight": 1, "retry": None}


def targeted_only(fields: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema of `check_target_alone`'s second rule: `fields` keep their defaults without a target."""
    untargeted = {name: {"const": TARGET_ONLY_DEFAULTS[name]} for name in fields}
    given = {"required": ["target"], "properties": {"target": {"not": {"type": "null"}}}}
    return {"anyOf": [given, {"properties": untargeted}]}


def check_target_alone(spec: RunSpec | EventSpec, fields: Sequence[str]) -> None:
    target = spec.target
    if target is not None and spec.subscriptions is not None:
        message = "give target or subscriptions, not both: a target is an ad-hoc subscription of its own"
        raise InvalidInput(message, errors=[FieldError("target", message)])
    if target is not None:
        return
    for name in fields:
        if getattr(spec, name) != TARGET_ONLY_DEFAULTS[name]:
            message = (
                f"{name} applies only with target: a subscription signs and sends as it was made "
                "(PATCH /subscriptions/{id} changes it)"
            )
            raise InvalidInput(message, errors=[FieldError(name, message)])


def check_native_secret(provider: str, target: str | None, scheme: str | None, secret: str | None) -> None:
    """Refuse a target's secret that its deliveries would never use: without `signing`, `provider`'s events go
    out under its own scheme, and Basis Theory's is its RSA key, which takes none. Taken, the secret was shown back
    (a handle's `secret`) while nothing it could verify was ever signed with it."""
    if target is None or scheme is not None or secret is None or provider != "basistheory":
        return
    message = (
        "a Basis Theory event is signed with the provider's key, which takes no secret: leave secret out (verify "
        "with the public key), or set signing to standard or syncfy to sign with this secret"
    )
    raise InvalidInput(message, errors=[FieldError("secret", message)])


def check_secret(scheme: str | None, secret: str | None) -> None:
    """Refuse a secret that does not fit `scheme` (None: the provider's native one, checked as Syncfy's)."""
    if secret is None:
        return
    given, scheme = scheme, scheme or "syncfy"
    pattern = {"syncfy": formats.SYNCFY_SECRET, "standard": formats.STANDARD_SECRET}.get(scheme)
    if pattern is not None and secret and not re.fullmatch(pattern, secret):
        expected = "whsec_<base64>" if scheme == "standard" else "base64"
        message = f"a {scheme} secret must be non-empty {expected}"
        if given is None and secret.startswith("whsec_"):
            # Without `signing` each event goes out under its provider's own scheme, and the one secret it takes
            # is Syncfy's: a Standard Webhooks secret there reads as a Syncfy one gone wrong.
            message += " (no signing was given, so the secret is Syncfy's: set signing to standard for a whsec_ one)"
        raise InvalidInput(message, errors=[FieldError("secret", message)])
    signing.validate_secret(scheme, secret)
