"""The syntax of the control API's text fields, as regular expressions: each one is both the field's `pattern` in
the OpenAPI document and the check the server makes, so the document cannot promise more or less than the server
accepts (a test draws strings from each and holds the server's own checks to them).

They are written in the part of regex syntax that ECMA 262 (the document's readers), Rust's `regex` crate
(pydantic's `pattern`) and Python's `re` (hypothesis, the tests) read alike: no lookaround, no backreferences.
Closed sets of numbers (ports, days, cron fields) are spelled out, which is why some are built by functions.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable

# --- names --------------------------------------------------------------------------------------------------

# A scenario's name (the scenario file schema's `name`): lowercase words joined by single hyphens.
SCENARIO_NAME = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SCENARIO_NAME_MAX = 100

# A dotted override path (`payload.is_executing`, `data.card.number`): at most 16 parts of at most 64 characters.
OVERRIDE_PATH = r"^[^.]{1,64}(?:\.[^.]{1,64}){0,15}$"
OVERRIDE_PATH_SAYS = "a dotted path of at most 16 parts of at most 64 characters"  # what a refusal expects


# --- numbers ------------------------------------------------------------------------------------------------


def numbers(low: int, high: int, *, zero_padded: bool = False) -> str:
    """A group matching the decimal integers `low`..`high` (no sign, no leading zeros; with `zero_padded`, a
    one-digit number may also be written with a leading 0, as crontab allows: `05`)."""
    if not 0 <= low <= high:
        raise ValueError(f"not a range of natural numbers: {low}..{high}")
    parts = []
    start = low
    for stop in _stops(low, high):
        parts.append(_span(start, stop, zero_padded))
        start = stop + 1
    return "(?:" + "|".join(parts) + ")"


def _stops(low: int, high: int) -> list[int]:
    """Where to cut `low`..`high` so that each piece is a prefix, one digit range and free digits: 7..9, 10..99,
    100..255 (the to-regex-range method)."""
    stops = {high}
    nines = 1
    stop = int(str(low)[:-nines] + "9" * nines) if len(str(low)) > nines else 10**nines - 1
    while low <= stop < high:
        stops.add(stop)
        nines += 1
        stop = int(str(low)[:-nines] + "9" * nines) if len(str(low)) > nines else 10**nines - 1
    zeros = 1
    stop = (high + 1) - (high + 1) % 10**zeros - 1
    while low < stop <= high:
        stops.add(stop)
        zeros += 1
        stop = (high + 1) - (high + 1) % 10**zeros - 1
    return sorted(stops)


def _span(start: int, stop: int, zero_padded: bool) -> str:
    """`start`..`stop`, two numbers of one length that differ in one digit range followed by free digits."""
    a, b = str(start), str(stop)
    pattern, free = "", 0
    for x, y in zip(a, b, strict=True):
        if x == y:
            pattern += x
        elif x == "0" and y == "9":
            free += 1
        else:
            pattern += f"[{x}-{y}]"
    if free:
        pattern += "[0-9]" if free == 1 else f"[0-9]{{{free}}}"
    return ("0?" + pattern) if zero_padded and len(a) == 1 else pattern


PORT = numbers(1, 65535)

_UNITS = {"ms": 0.001, "": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(max_seconds: int, *, positive: bool = False) -> str:
    """A duration as text, `0` to `max_seconds`: a decimal number (no sign, no leading zeros, at most 9 decimals)
    and an optional unit `ms`, `s`, `m`, `h` or `d`; with `positive`, not zero. Each unit's numbers are bounded
    in the expression itself, so text the pattern allows is a duration the server takes, and no more."""
    spellings = []
    for unit, factor in _UNITS.items():
        top = round(max_seconds / factor)
        whole = numbers(0, top - 1) + r"(?:\.[0-9]{1,9})?"
        spellings.append(f"(?:{whole}|{top}(?:\\.0{{1,9}})?){unit}")
    zero = r"(?!0(?:\.0{1,9})?(?:ms|s|m|h|d)?$)" if positive else ""
    return f"^{zero}(?:{'|'.join(spellings)})$"


# --- URLs ---------------------------------------------------------------------------------------------------

_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_H16 = r"[0-9A-Fa-f]{1,4}"
# RFC 4291 text forms without an embedded IPv4 address or a zone.
_IPV6 = "|".join(
    [
        rf"(?:{_H16}:){{7}}{_H16}",
        rf"(?:{_H16}:){{1,7}}:",
        rf"(?:{_H16}:){{1,6}}:{_H16}",
        rf"(?:{_H16}:){{1,5}}(?::{_H16}){{1,2}}",
        rf"(?:{_H16}:){{1,4}}(?::{_H16}){{1,3}}",
        rf"(?:{_H16}:){{1,3}}(?::{_H16}){{1,4}}",
        rf"(?:{_H16}:){{1,2}}(?::{_H16}){{1,5}}",
        rf"{_H16}:(?::{_H16}){{1,6}}",
        rf":(?:(?::{_H16}){{1,7}}|:)",
    ]
)
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT}){{0,128}}@"
_HOST = rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT}){{1,253}}|\[(?:{_IPV6})\])"
_QCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@/?]|{_PCT})"
# Every URL the simulator POSTs to: an absolute http(s) URL in RFC 3986 syntax (ASCII; other characters
# percent-encoded), lowercase scheme, a host, an optional port from 1 to 65535, no spaces or control characters.
# The parts' lengths are bounded in the expression itself (a URL is at most a few kilobytes) rather than by a
# `maxLength` beside it: generators drawing boundary-length strings through a long pattern slow to a crawl.
URL = rf"^https?://(?:{_USERINFO})?{_HOST}(?::{PORT})?(?:[/?]{_QCHAR}{{0,2000}})?(?:#{_QCHAR}{{0,500}})?$"


# --- times --------------------------------------------------------------------------------------------------

# Times a run or a schedule may name: from 1970 to 2200 as written (a run's timeline then stays far from the
# year 9999 where Python's datetime ends, and from times before the Unix epoch).
FIRST_YEAR, LAST_YEAR = 1970, 2200


def _date(first_year: int, last_year: int) -> str:
    years = numbers(first_year, last_year)
    leaps = [str(y) for y in range(first_year, last_year + 1) if calendar.isleap(y)]
    long_months = "(?:01|03|05|07|08|10|12)"
    return (
        f"(?:{years}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
        f"|{years}-(?:0[13-9]|1[0-2])-(?:29|30)"
        f"|{years}-{long_months}-31"
        + (f"|(?:{'|'.join(leaps)})-02-29)" if leaps else ")")  # no leap year: no 29 February at all
    )


# RFC 3339 (`2025-03-14T15:09:26Z`, `…26.535+01:00`): T and Z upper case, at most 6 fractional digits (the
# precision kept), an offset always.
_CLOCK = r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
_HOURS = "(?:[01][0-9]|2[0-3]):[0-5][0-9]"
DATE_TIME = rf"^{_date(FIRST_YEAR, LAST_YEAR)}{_CLOCK}(?:Z|[+-]{_HOURS})$"
# A Syncfy run's start as the document states it: its ids (MongoDB ObjectIds) hold the instants from 1970 to
# 2106-02-07T06:28:15Z (`simulator.ids`), and its user signed up up to 30 days before it (`core.validation`).
# Stated as written, which a pattern can say: 1971 to 2105, with any offset. The server judges the instant, so it
# takes the few more that fit (from 31 January 1970; in 2106 those whose events all come before 7 February).
SYNCFY_DATE_TIME = rf"^{_date(1971, 2105)}{_CLOCK}(?:Z|[+-]{_HOURS})$"
# A Syncfy schedule's start with no seed (`core.validation`): each firing draws its own seed, so near that last time
# the server cannot check up front that the runs' events all come before it, and asks for a seed. Judged as
# written, by the server too, so that the document says exactly what it takes: up to 2095, whose last instant with
# any offset is more than ten years before 2106-02-07 (where a seeded run is played through to check it).
SYNCFY_UNSEEDED_LAST_YEAR = 2095
SYNCFY_UNSEEDED_DATE_TIME = rf"^{_date(1971, SYNCFY_UNSEEDED_LAST_YEAR)}{_CLOCK}(?:Z|[+-]{_HOURS})$"


# Text free of NUL, which no id or text the server keeps can hold (`api.middleware.NoNul`).
NO_NUL = r"^[^\x00]*$"


# --- secrets ------------------------------------------------------------------------------------------------

_B64 = "[A-Za-z0-9+/]"
# Base64 that decodes to at least one byte, padding optional (`simulator.signing` accepts exactly this).
BASE64 = rf"(?:(?:{_B64}{{4}})+(?:{_B64}{{2}}(?:==?)?|{_B64}{{3}}=?)?|{_B64}{{2}}(?:==?)?|{_B64}{{3}}=?)"
# The secret of each signing scheme (None: the provider's native one, checked as Syncfy's): see `secret_schema`.
SYNCFY_SECRET = rf"^{BASE64}$"
STANDARD_SECRET = rf"^whsec_{BASE64}$"
SECRET_MAX = 512


# --- headers ------------------------------------------------------------------------------------------------

# RFC 9110: a field name is a token; a value is visible ASCII, Latin-1, spaces and tabs (one line).
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
HEADER_VALUE_MAX = 8192
HEADER_VALUE = f"^[\t\x20-\x7e\x80-\xff]{{0,{HEADER_VALUE_MAX}}}$"
MAX_HEADERS = 50
# Headers the sender sets on each request itself, in any letter case.
FRAMING_HEADERS = ("host", "content-length", "transfer-encoding", "connection")
# Every signing scheme's headers: one of them set by a subscription replaced the signature's own (a `webhook-id`
# of its own made every request fail to verify), so they are refused like the framing headers.
SIGNATURE_HEADERS = (
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "bt-signature",
    "bt-signature-version",
    "request-signature",
)


def any_case(word: str) -> str:
    """`word` as a pattern in either case, letter by letter (ECMA-262 patterns take no flags). Its other
    characters go in as they are: words of letters, digits and `-`, which a pattern reads as themselves."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


FRAMING_HEADER = "^(?:" + "|".join(any_case(h) for h in FRAMING_HEADERS + SIGNATURE_HEADERS) + ")$"


# --- crontab ------------------------------------------------------------------------------------------------

# (name, lowest, highest, largest step of */n) of the five fields; weekdays 0-7, 0 and 7 both Sunday.
CRON_FIELDS = (
    ("minute", 0, 59, 59),
    ("hour", 0, 23, 23),
    ("day", 1, 31, 30),
    ("month", 1, 12, 11),
    ("weekday", 0, 7, 7),
)
# Names a field also takes, in the order a range of names must follow (APScheduler's: weeks from Monday).
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAMES = {"month": MONTH_NAMES, "weekday": WEEKDAY_NAMES}


def _cron_field(name: str, low: int, high: int, step: int) -> str:
    """One field: `*`, or a comma-separated list of `n`, `a-b` (a <= b), `*/n`, and for months and weekdays
    their three-letter names alone or in ranges (`mon-fri`, `jan-mar`)."""
    value = numbers(low, high, zero_padded=True)
    spans = "|".join(
        f"{numbers(a, a, zero_padded=True)}-{numbers(a, high, zero_padded=True)}" for a in range(low, high + 1)
    )
    names = _NAMES.get(name, ())
    named = "".join(f"|{n}(?:-(?:{'|'.join(names[i:])}))?" for i, n in enumerate(names))
    item = f"(?:{spans}|{value}|\\*/{numbers(1, step, zero_padded=True)}{named})"
    return f"(?:\\*|{item}(?:,{item}){{0,63}})"


# A 5-field crontab expression (minute hour day month weekday, UTC): `*`, numbers, ranges, lists, `*/n` steps
# and lowercase names; single spaces between the fields. (No `a-b/n`, no `L` or `#`: one grammar the document
# can state.)
CRON = "^" + " ".join(_cron_field(*field) for field in CRON_FIELDS) + "$"


def _list_of(values: Iterable[int]) -> str:
    """A month field whose every item is one of `values` (a number or a name, alone or as a one-value range)."""
    spellings = [f"(?:{numbers(v, v, zero_padded=True)}|{MONTH_NAMES[v - 1]})" for v in values]
    one = "(?:" + "|".join(f"{s}(?:-{s})?" for s in spellings) + ")"
    return f"{one}(?:,{one})*"


def _day_list_from(first: int) -> str:
    """A day field whose items are all at least `first`."""
    item = f"(?:{numbers(first, 31)}(?:-{numbers(first, 31)})?)"
    return f"{item}(?:,{item})*"


# The expressions of CRON that never fire: days that no month they name has (the 30th or 31st of February
# only; the 31st of 30-day months and February only), with the weekday unrestricted (`*`, `*/n`). A restricted
# weekday makes cron fire on either day (`0 0 30 2 1`: every Monday of February). Every other expression of CRON
# fires within 28 years.
CRON_NEVER = (
    r"^\S+ \S+ (?:"
    + f"{_day_list_from(30)} {_list_of([2])}"
    + f"|{_day_list_from(31)} {_list_of([2, 4, 6, 9, 11])}"
    + r") \*\S*$"
)
