"""The sender: one shared aiohttp session, keep-alive per host, one POST per attempt."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import aiohttp

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
    def __init__(self, limit_per_host: int = 0) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._limit_per_host = limit_per_host

    async def start(self) -> None:
        # No total limit: each subscription's max_in_flight is the real bound on concurrency.
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=self._limit_per_host, keepalive_timeout=30)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                              skip_auto_headers=("User-Agent", "Content-Type"))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        assert self._session is not None, "sender not started"
        started = time.perf_counter()
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False,
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                excerpt = await resp.content.read(RESPONSE_EXCERPT)
                latency = (time.perf_counter() - started) * 1000
                return Outcome(resp.status, latency, None, excerpt.decode("utf-8", "replace"),
                               parse_retry_after(resp.headers.get("Retry-After"), time.time()))
        except TimeoutError:
            return Outcome(None, (time.perf_counter() - started) * 1000, f"timeout after {timeout:g}s", None, None)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            latency = (time.perf_counter() - started) * 1000
            return Outcome(None, latency, f"{type(exc).__name__}: {exc}"[:500], None, None)
        except asyncio.CancelledError:
            raise
