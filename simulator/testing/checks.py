"""Checks of the arguments the test support takes beyond those of `simulator.arguments`: ids, URLs and signing
schemes. Each refuses a value of the wrong type with a TypeError, and one out of range with a ValueError, naming
the argument, and says how to get the right value from the object given where it can.

An object given for an id was sent as its text: `deliveries(run=handle)` matched no delivery, so an assertion
that none died passed whatever had died, and a wait for it timed out saying it had none.
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator import arguments, signing
from simulator.models.enums import DELIVERY_STATUSES

# How a test names each kind of id, in the messages.
_KINDS = {"run": "a run id", "subscription": "a subscription id", "delivery": "a delivery id"}


def an_id(name: str, value: object, kind: str) -> str:
    """`value`, the id of a `kind` ("run", "subscription" or "delivery"): a str."""
    if isinstance(value, str):
        return value
    raise TypeError(f"{name} must be {_KINDS[kind]} (a str), got {_shown(value)}{_hint(kind, value)}")


def optional_id(name: str, value: object, kind: str) -> str | None:
    """`value`, the id of a `kind`, or None."""
    return None if value is None else an_id(name, value, kind)


def id_list(name: str, value: Iterable[str] | None, kind: str, example: str) -> list[str] | None:
    """`value`, a list of ids of `kind`, or None. A record or a handle alone is refused as a list would be: a
    record iterates as its fields."""
    if value is None or isinstance(value, str | bytes):
        return arguments.strings(name, value, example)  # None, or its own error for a lone string
    if not isinstance(value, list | tuple | set | frozenset):
        raise TypeError(f"{name} must be a list of ids, got {_shown(value)}{_hint(kind, value, many=True)}")
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{name} must be a list of ids (str), got {_shown(item)} in it{_hint(kind, item)}")
    return list(value)


def url(name: str, value: object) -> str:
    """`value`, a URL (a str); a receiver or a server given for it is told to give its `.url`."""
    if isinstance(value, str):
        return value
    has_url = isinstance(getattr(value, "url", None), str)
    raise TypeError(f"{name} must be a URL (a str), got {_shown(value)}{': pass its .url' if has_url else ''}")


def scheme(name: str, value: object) -> str:
    """`value`, the name of a signing scheme."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a signing scheme's name (a str), got {value!r}")
    if value not in signing.SCHEMES:
        raise ValueError(f"{name} must be one of {', '.join(signing.SCHEMES)}, got {value!r}")
    return value


def seed(value: object) -> int | None:
    """A seed: None (one drawn), or an int of 0 or more."""
    return None if value is None else arguments.whole("seed", value)


def status(value: object) -> str | None:
    """A delivery status to filter by, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"status must be a delivery status (a str), got {value!r}")
    if value not in DELIVERY_STATUSES:
        raise ValueError(f"status must be one of {', '.join(DELIVERY_STATUSES)}, got {value!r}")
    return value


# The numbers of a subscription (and of a run's target) checked here, with the API's bounds: refused by the
# server, they were an ApiError, no TypeError or ValueError.
_NUMBERS = {"timeout": (float, 0.0, 600.0, False), "max_in_flight": (int, 1, 1000, True)}


def numbers(fields: dict[str, object]) -> None:
    """Check the numbers among a call's further `fields` (`timeout`, `max_in_flight`) as the API would."""
    for name, (kind, least, most, inclusive) in _NUMBERS.items():
        if name not in fields:
            continue
        value = arguments.whole(name, fields[name]) if kind is int else arguments.number(name, fields[name])
        if not (value >= least if inclusive else value > least) or not value <= most:
            bound = f"{least} or more" if inclusive else f"more than {least:g}"
            raise ValueError(f"{name} must be {bound} and at most {most:g}, got {value}")


def _shown(value: object) -> str:
    """A value as a message shows it: a record's repr runs to pages, its type says what was given."""
    text = repr(value)
    if len(text) <= 60 and not hasattr(value, "id"):
        return text
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _hint(kind: str, value: object, *, many: bool = False) -> str:
    """How to get the id wanted from `value`, when it is something that holds one."""
    # Imported on the way to an error only: `local` imports this module, and RunHandle lives there.
    from simulator.client import DeliveryInfo, EmittedEvent, RunInfo, SubscriptionInfo
    from simulator.testing.local import RunHandle

    holders: dict[str, list[tuple[tuple[type, ...], str]]] = {
        "run": [((RunHandle, RunInfo), "its .id")],
        "subscription": [((SubscriptionInfo,), "its .id")],
        "delivery": [((DeliveryInfo,), "its .id"), ((EmittedEvent,), "one of its .deliveries")],
    }
    for types, where in holders[kind]:
        if isinstance(value, types):
            return f": pass a list holding {where}" if many else f": pass {where}"
    return ""
