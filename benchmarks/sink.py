"""A minimal HTTP/1.1 keep-alive receiver answering 204 to every request: the fast receiver when nginx is not
installed. Run as `python -m benchmarks.sink PORT [RECORD]` (a process of its own, so it does not share a core's
time with what is measured). With RECORD, each request's `webhook-id` is appended to that file, a line each, so a
benchmark can count what arrived and what arrived twice."""

from __future__ import annotations

import asyncio
import sys
from typing import IO

RESPONSE = b"HTTP/1.1 204 No Content\r\nServer: sink\r\nConnection: keep-alive\r\n\r\n"


class Sink(asyncio.Protocol):
    record: IO[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            if self.record is not None:
                marker = head.find(b"webhook-id:")
                if marker >= 0:
                    self.record.write(head[marker + 11 :].split(b"\r\n", 1)[0].strip() + b"\n")
            self.buffer = self.buffer[total:]
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if len(sys.argv) > 2:
        Sink.record = open(sys.argv[2], "ab", buffering=0)  # noqa: SIM115  # each line reaches the file at once
    asyncio.run(main(int(sys.argv[1])))
