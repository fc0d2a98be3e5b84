"""The sender: keep-alive connections per URL, one POST per attempt, the outcome recorded whatever happens."""

from __future__ import annotations

import base64
import codecs
import re
import ssl
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

from simulator.delivery.http1 import Client, Target
from simulator.delivery.http1_reader import BodyCut, ProtocolError, Response
from simulator.digits import is_digits, whole

# The most of an answer's body kept (the attempts log and the dashboard show it), in bytes as received.
RESPONSE_EXCERPT = 64 * 1024
# The longest a receiver's Retry-After may hold a delivery back. A longer one (a year, 400 nines) is capped and
# the attempt's error says so: a receiver cannot park a delivery beyond every provider's retry schedule.
MAX_RETRY_AFTER = 86_400.0

_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"\d\d:\d\d:\d\d"
# RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must also accept.
_HTTP_DATE = re.compile(
    rf"{_DAY}, \d\d {_MONTH} \d{{4}} {_TIME} GMT"
    rf"|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d\d-{_MONTH}-\d\d {_TIME} GMT"
    rf"|{_DAY} {_MONTH} [ \d]\d {_TIME} \d{{4}}",
    re.ASCII,
)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs four times as much, once per attempt
class Outcome:
    status: int | None
    latency_ms: float
    error: str | None
    response: str | None  # the answer's body: UTF-8 text, or base64 where `response_encoding` says so
    retry_after: float | None  # wall-clock seconds the receiver asked for, at most MAX_RETRY_AFTER
    headers: dict[str, str] | None = None  # the answer's, names lower-cased
    response_encoding: str | None = None  # None: UTF-8 text; "base64": bytes that are not UTF-8
    whole: bool = True  # False: the answer's body was cut short (the connection ended, or the time ran out, in it)

    @property
    def ok(self) -> bool:
        """A 2xx answer that came whole: one whose body was cut short is a failed attempt, retried."""
        return self.status is not None and 200 <= self.status < 300 and self.whole


def answer_body(body: bytes) -> tuple[str, str | None]:
    """An answer's body as stored: its text and None when it is UTF-8 without NUL, else its base64 and "base64",
    exact either way. `body` holds at most RESPONSE_EXCERPT + 1 bytes: one more means the answer was longer and is
    cut at the bound, where a character may be cut too; such a text stays text, without the part of a character
    cut off."""
    # NUL is UTF-8, but PostgreSQL's text refuses it: such an answer's record was refused, and its run never ended.
    if b"\x00" in body:
        return base64.b64encode(body[:RESPONSE_EXCERPT]).decode("ascii"), "base64"
    if len(body) <= RESPONSE_EXCERPT:
        try:
            return body.decode("utf-8"), None
        except UnicodeDecodeError:
            return base64.b64encode(body).decode("ascii"), "base64"
    body = body[:RESPONSE_EXCERPT]
    try:
        # Not final: an incomplete sequence at the end (a character the bound cut) is held back, not an error.
        return codecs.getincrementaldecoder("utf-8")().decode(body, final=False), None
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def parse_retry_after(value: str | None, now: float) -> tuple[float | None, str | None]:
    """Seconds to wait from a `Retry-After` header (RFC 9110 §10.2.3: delta-seconds or an HTTP-date, `now` being
    the Unix time it is measured from), capped at MAX_RETRY_AFTER; and a note when the value was capped or ignored.
    """
    if value is None:
        return None, None
    value = value.strip(" \t")
    shown = value if len(value) <= 40 else f"{value[:40]}…"
    if is_digits(value):
        number = whole(value, 9)  # more than nine digits is beyond the cap whatever they say
        seconds = float(number) if number is not None else float("inf")
    elif _HTTP_DATE.fullmatch(value):
        try:
            date = parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            return None, f"Retry-After {shown!r} ignored: not a valid date"
        if date.tzinfo is None:  # the asctime form, which is GMT
            date = date.replace(tzinfo=UTC)
        seconds = max(0.0, date.timestamp() - now)
    else:
        return None, f"Retry-After {shown!r} ignored: neither delta-seconds nor an HTTP-date"
    if seconds > MAX_RETRY_AFTER:
        return MAX_RETRY_AFTER, f"Retry-After {shown!r} capped at {MAX_RETRY_AFTER:.0f} s (1 day)"
    return seconds, None


class Sender:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._client: Client | None = None
        self._targets: dict[str, Target] = {}

    async def start(self) -> None:
        # No limit of its own: each subscription's max_in_flight is the real bound on concurrency. One byte past
        # the excerpt tells an answer cut at the bound (whose last character may be cut) from one that ends there.
        self._client = Client(RESPONSE_EXCERPT + 1, self._ssl)

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _target(self, url: str) -> Target:
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 10_000:
                self._targets.clear()  # bounded: URLs of removed subscriptions must not pile up
            target = self._targets[url] = Target.parse(url)
        return target

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        """POST and describe what happened; a refused connection, a timeout or a malformed answer is an outcome
        with an error, never an exception."""
        assert self._client is not None, "sender not started"
        started = time.perf_counter()
        try:
            resp = await self._client.post(self._target(url), headers, body, timeout)
        except TimeoutError:
            return Outcome(None, (time.perf_counter() - started) * 1000, f"timeout after {timeout:g}s", None, None)
        except BodyCut as cut:  # the status and headers came: they are the receiver's answer, if not a whole one
            how = f"timeout after {timeout:g}s, {cut.progress} received" if cut.event is None else str(cut)
            error = f"the answer's body was cut short: {how}"
            return _cut_short(cut.response, (time.perf_counter() - started) * 1000, error)
        except (OSError, ProtocolError, ValueError) as exc:
            latency = (time.perf_counter() - started) * 1000
            return Outcome(None, latency, f"{type(exc).__name__}: {exc}"[:500], None, None)
        latency = (time.perf_counter() - started) * 1000
        retry_after, note = None, None
        if not 200 <= resp.status < 300:  # a success is not retried: its Retry-After means nothing
            retry_after, note = parse_retry_after(resp.headers.get("retry-after"), time.time())
        if resp.cut is not None or len(resp.body) > RESPONSE_EXCERPT:
            note = _joined(_kept_part(resp), note)  # the record says why its body is not all of the answer's
        text, encoding = answer_body(resp.body)
        return Outcome(resp.status, latency, note, text, retry_after, resp.headers, encoding)


def _cut_short(resp: Response, latency: float, error: str) -> Outcome:
    """A failed attempt that has an answer's status and headers, and `error` saying how its body ended early."""
    retry_after, note = None, None
    if not 200 <= resp.status < 300:
        retry_after, note = parse_retry_after(resp.headers.get("retry-after"), time.time())
    text, encoding = answer_body(resp.body)
    error = _joined(error, note)
    return Outcome(resp.status, latency, error, text, retry_after, resp.headers, encoding, whole=False)


def _kept_part(resp: Response) -> str:
    """Why the body kept of a whole answer stops before its end: 64 KiB kept, or framing too heavy to read."""
    if resp.cut is not None:
        return f"the answer's body is kept to its first {len(resp.body):,} bytes: {resp.cut}"
    length = whole(resp.headers.get("content-length", "").strip())
    of = f"{length:,} bytes" if length is not None else "a longer body"
    return f"the answer's body is kept to its first 64 KiB of {of}: the log keeps no more"


def _joined(first: str, then: str | None) -> str:
    return (f"{first}; {then}" if then else first)[:500]
