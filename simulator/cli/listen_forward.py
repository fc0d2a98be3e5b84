"""`listen --forward-to URL`: relay a request to the service being written and bring its answer back, bounded.

The answer is read whole before it is relayed, so it is bounded twice: in size, at what the simulator's sender
keeps of an answer (a longer one is not relayed cut: the sender is told), and in time, as a whole (a service that
streams an endless answer grew `listen`'s memory without bound, each read well within its own timeout). Either
way the sender gets an answer that says what happened, and `listen` prints it. So it does when `listen` stops
while the service has not answered: the forward ends then, answered 503 (uvicorn cancelled it after its graceful
timeout: a traceback, and the sender got uvicorn's 500).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from starlette.responses import Response

from simulator.credentials import mask_url
from simulator.delivery.sender import RESPONSE_EXCERPT
from simulator.escapes import escape_controls

# Seconds for the whole answer: under the 30 s a subscription's sender waits by default, so that the sender hears
# why instead of timing out itself.
FORWARD_DEADLINE = 25.0
# The answer's headers relayed: what a sender acts on, and the body's encoding. The body goes as the service sent
# it: decoded, an encoding the client cannot decode (`br` without brotli) reached the sender still encoded, its
# Content-Encoding dropped, and read as plain text.
KEPT_HEADERS = frozenset({"content-type", "retry-after", "content-encoding"})

T = TypeVar("T")


class _TooLong(Exception):
    pass


class _Stopped(Exception):
    pass


async def forward(
    client: httpx.AsyncClient,
    request: tuple[str, str, bytes, list[tuple[bytes, bytes]]],
    deadline: float = FORWARD_DEADLINE,
    stopping: asyncio.Event | None = None,
) -> tuple[Response, str]:
    """Relay `request` (method, URL, body, headers); the answer to give the sender, and the note to print. Once
    `stopping` is set, a forward still waiting for its answer ends, answered 503."""
    url = mask_url(request[1])  # as shown: a password in the URL is never printed
    try:
        status, headers, content = await asyncio.wait_for(_unless_stopped(_fetch(client, request), stopping), deadline)
    except _Stopped:
        return _failed(503, f"listen stopped before {url} answered")
    except TimeoutError:
        return _failed(504, f"no whole answer from {url} within {deadline:g} s")
    except _TooLong:
        return _failed(502, f"the answer from {url} is longer than {RESPONSE_EXCERPT // 1024} KiB")
    except httpx.ConnectError as exc:
        if _refused(exc):
            return _failed(502, f"connection refused by {url} (is it running?)")
        # A TLS handshake that failed (https:// to a plain-HTTP app, a certificate not trusted), a name not
        # resolved: the app may well be running, and "refused" sent its user looking in the wrong place.
        return _failed(502, f"could not connect to {url}: {escape_controls(str(exc)) or type(exc).__name__}")
    except httpx.HTTPError as exc:  # (a reset has no words of its own: its kind says it)
        return _failed(502, f"{type(exc).__name__}: {escape_controls(str(exc)) or 'the connection ended'}")
    if not 100 <= status <= 599:  # the HTTP parser reads any three digits; the server would drop the connection
        return _failed(502, f"{url} answered {status}, which is no HTTP status (100-599)")
    return Response(content, status_code=status, headers=headers), f"→ {url}"


def _refused(exc: BaseException) -> bool:
    """Whether a failed connection was refused: somewhere in its causes (the async client says "All connection
    attempts failed", caused by the refusal)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


async def _unless_stopped(work: Coroutine[Any, Any, T], stopping: asyncio.Event | None) -> T:
    """`work`'s result, unless `stopping` is set first: then `work` is cancelled (its connection closed) and
    `_Stopped` is raised."""
    if stopping is None:
        return await work
    working = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((working, stopped), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # cancelled itself (the deadline): `work` ends with it
        stopped.cancel()
        working.cancel()
        await asyncio.wait((working,))
        raise
    stopped.cancel()
    if working.done():
        return working.result()
    working.cancel()
    await asyncio.wait((working,))
    raise _Stopped


async def _fetch(
    client: httpx.AsyncClient, request: tuple[str, str, bytes, list[tuple[bytes, bytes]]]
) -> tuple[int, dict[str, str], bytes]:
    method, url, body, headers = request
    async with client.stream(method, url, content=body, headers=headers) as answer:
        content = bytearray()
        async for chunk in answer.aiter_raw():
            content += chunk
            if len(content) > RESPONSE_EXCERPT:
                raise _TooLong
        kept = {k: v for k, v in answer.headers.items() if k.lower() in KEPT_HEADERS}
        return answer.status_code, kept, bytes(content)


def _failed(status: int, reason: str) -> tuple[Response, str]:
    """The sender is told, in the answer's body, why it did not get the service's answer."""
    return Response(f"listen: forward failed: {reason}\n", status_code=status, media_type="text/plain"), (
        f"forward failed: {reason}"
    )
