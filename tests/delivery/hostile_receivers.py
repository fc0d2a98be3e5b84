"""Receivers that answer to hurt, in a process of their own as real ones would be (their writing must not compete
with the simulator for the interpreter): `python -m tests.delivery.hostile_receivers` serves each on a port of
its own, prints `{"name": port, ...}` as one JSON line, and serves until its standard input closes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

from tests.delivery.scripted import (
    FiftyMegabytes,
    Script,
    Server,
    endless_head,
    endless_one_byte_chunks,
    negative_chunk_size,
    read_request,
    serving,
    slow_drip,
)


def answering(head: bytes) -> Script:
    """Every request on a connection answered with `head` and an empty body."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader, Server()) is not None:
            writer.write(head + b"Content-Length: 0\r\n\r\n")
            await writer.drain()

    return handle


SCRIPTS: dict[str, Script] = {
    "negative-chunk": negative_chunk_size,
    "endless-body": endless_one_byte_chunks(per_write=1000),
    "50-mb-body": FiftyMegabytes(),
    "endless-head": endless_head,
    "slow-drip": slow_drip,
    "retry-after-superscript": answering(b"HTTP/1.1 503 Busy\r\nRetry-After: \xb2\r\n"),
    "retry-after-400-nines": answering(b"HTTP/1.1 503 Busy\r\nRetry-After: " + b"9" * 400 + b"\r\n"),
}


async def main() -> None:
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        servers = {name: await stack.enter_async_context(serving(s, Server())) for name, s in SCRIPTS.items()}
        print(json.dumps({name: server.port for name, server in servers.items()}), flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the test closes our standard input


if __name__ == "__main__":
    asyncio.run(main())
