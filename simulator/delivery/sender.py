"""The sender: keep-alive connections per origin, one POST per attempt, the outcome recorded whatever happens."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from simulator.delivery.http1 import Client, ProtocolError, Target

RESPONSE_EXCERPT = 1024


@dataclass(frozen=True)
class Outcome:
    status: int | None
    latency_ms: float
    error: str | None
    response: str | None
    retry_after: float | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class Sender:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._client: Client | None = None
        self._targets: dict[str, Target] = {}

    async def start(self) -> None:
        # No limit of its own: each subscription's max_in_flight is the real bound on concurrency.
        self._client = Client(RESPONSE_EXCERPT, self._ssl)

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
        assert self._client is not None, "sender not started"
        started = time.perf_counter()
        try:
            resp = await self._client.post(self._target(url), headers, body, timeout)
        except TimeoutError:
            return Outcome(None, (time.perf_counter() - started) * 1000, f"timeout after {timeout:g}s", None, None)
        except (OSError, ProtocolError, ValueError) as exc:
            latency = (time.perf_counter() - started) * 1000
            return Outcome(None, latency, f"{type(exc).__name__}: {exc}"[:500], None, None)
        latency = (time.perf_counter() - started) * 1000
        return Outcome(
            resp.status,
            latency,
            None,
            resp.body.decode("utf-8", "replace"),
            parse_retry_after(resp.headers.get("retry-after"), time.time()),
        )
