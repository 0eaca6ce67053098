"""A small closed-loop HTTP/1.1 load generator (keep-alive connections on asyncio streams).

Run in its own process: ``python -m bench.loadgen HOST PORT METHOD PATH SECONDS CONNECTIONS [BODY]``;
prints one JSON object: requests, requests/s, p50/p99 in ms, and the count of each status.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def _connection(
    host: str,
    port: int,
    request: bytes,
    deadline: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
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
    host: str, port: int, method: str, path: str, seconds: float, connections: int, body: bytes
) -> dict[str, object]:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    ).encode()
    request = head + body
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    began = time.perf_counter()
    deadline = began + seconds
    await asyncio.gather(
        *(
            _connection(host, port, request, deadline, latencies, statuses)
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
    result = asyncio.run(
        _run(host, int(port), method, path, float(seconds), int(connections), body)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
