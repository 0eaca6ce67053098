"""A buyer's webhook receiver for P6, as lean as one can be: HTTP/1.1 keep-alive on asyncio
(uvloop when installed), ``200 {"ok":true}`` to every POST at once.

Run in its own process, so it does not share a GIL with what drives it:
``python -m bench.receiver``; it prints ``ready PORT`` once it listens on 127.0.0.1.
``GET /stats`` answers the counts so far as JSON: requests, those carrying a
``Leadflow-Signature`` header, body bytes and distinct paths. It does not check signatures: a
buyer's check costs the buyer, not the sender, and the e2e tests check them.
"""

from __future__ import annotations

import asyncio
import json
import signal
from typing import cast

REPLY = b'{"ok":true}'
OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    b"Content-Length: " + str(len(REPLY)).encode() + b"\r\n\r\n" + REPLY
)


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.signed = 0
        self.body_bytes = 0
        self.paths: set[bytes] = set()

    def as_json(self) -> bytes:
        return json.dumps(
            {
                "requests": self.requests,
                "signed": self.signed,
                "body_bytes": self.body_bytes,
                "paths": len(self.paths),
            }
        ).encode()


class Http(asyncio.Protocol):
    """One connection: requests parsed from the buffer as they complete, answered in order."""

    def __init__(self, stats: Stats) -> None:
        self._stats = stats
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; they write all the same.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end]).lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else None])
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            del self._buffer[:total]
            path = head[: head.find(b"\r\n")].split(b" ")[1]
            assert self._transport is not None
            if path == b"/stats":
                body = self._stats.as_json()
                self._transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                continue
            stats = self._stats
            stats.requests += 1
            stats.body_bytes += length
            stats.paths.add(path)
            if b"\r\nleadflow-signature:" in head:
                stats.signed += 1
            self._transport.write(OK)


async def _serve() -> None:
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Http(stats), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve())
    else:
        uvloop.run(_serve())


if __name__ == "__main__":
    main()
