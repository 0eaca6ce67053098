"""A small closed-loop HTTP/1.1 load generator (keep-alive connections on asyncio streams).

Run in its own process:
``python -m bench.loadgen HOST PORT METHOD PATH SECONDS CONNECTIONS [BODY [SEQ_START]]``;
prints one JSON object: requests, requests/s, p50/p99 in ms, and the count of each status.
With ``SEQ_START``, every ``__SEQ__`` in the body becomes a number unique to the request
(``SEQ_START``, ``SEQ_START + 1``, ...), so that each request can be another consumer.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

SEQ = b"__SEQ__"


class Requests:
    """The request to send: always the same bytes, or numbered when the body holds ``__SEQ__``."""

    def __init__(self, head: str, body: bytes, seq_start: int | None) -> None:
        self.head, self.body = head, body
        self.next = seq_start if seq_start is not None and SEQ in body else None
        self.fixed = None if self.next is not None else self._encode(body)

    def _encode(self, body: bytes) -> bytes:
        return self.head.format(length=len(body)).encode() + body

    def take(self) -> bytes:
        if self.fixed is not None:
            return self.fixed
        assert self.next is not None
        number, self.next = self.next, self.next + 1
        return self._encode(self.body.replace(SEQ, str(number).encode()))


async def _connection(
    host: str,
    port: int,
    requests: Requests,
    deadline: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            request = requests.take()
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            latencies.append((time.perf_counter() - began) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(
    host: str,
    port: int,
    method: str,
    path: str,
    seconds: float,
    connections: int,
    body: bytes,
    seq_start: int | None = None,
) -> dict[str, object]:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: {length}\r\nConnection: keep-alive\r\n\r\n"
    )
    requests = Requests(head, body, seq_start)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    began = time.perf_counter()
    deadline = began + seconds
    await asyncio.gather(
        *(
            _connection(host, port, requests, deadline, latencies, statuses)
            for _ in range(connections)
        )
    )
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return (
            ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
            if ordered
            else float("nan")
        )

    return {
        "requests": len(latencies),
        "elapsed_s": elapsed,
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "statuses": {str(k): v for k, v in statuses.items()},
    }


def main() -> None:
    host, port, method, path, seconds, connections = sys.argv[1:7]
    body = sys.argv[7].encode() if len(sys.argv) > 7 else b""
    seq_start = int(sys.argv[8]) if len(sys.argv) > 8 else None
    result = asyncio.run(
        _run(host, int(port), method, path, float(seconds), int(connections), body, seq_start)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
