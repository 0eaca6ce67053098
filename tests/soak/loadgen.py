"""The soak's intake: leads posted to ``POST /api/v1/leads`` at a fixed rate (open loop).

Run in its own process: ``python -m tests.soak.loadgen --port P --rate R --seconds S --out F``.
Each request is a line of JSON in ``F``: its sequence number, when it was sent and answered
(wall clock, to compare with the outage windows), the status (0 = no answer) and the lead id.
A request is sent on schedule whether or not the earlier ones were answered, up to
``MAX_IN_FLIGHT``; a slow API then delays the schedule instead of piling up connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import IO, Any

import httpx

from tests.soak.plan import lead_body

MAX_IN_FLIGHT = 64
TIMEOUT_SECONDS = 10.0


async def _post(client: httpx.AsyncClient, seq: int, out: IO[str], gate: asyncio.Semaphore) -> None:
    sent = time.time()
    record: dict[str, Any] = {"seq": seq, "sent": sent}
    try:
        response = await client.post("/api/v1/leads", json=lead_body(seq))
        record["status"] = response.status_code
        if response.status_code == 201:
            record["id"] = response.json()["id"]
        elif response.status_code >= 500:
            record["retry_after"] = response.headers.get("Retry-After")
            record["type"] = response.headers.get("content-type")
    except httpx.HTTPError as exc:
        record["status"] = 0
        record["error"] = type(exc).__name__
    finally:
        gate.release()
    record["answered"] = time.time()
    out.write(json.dumps(record) + "\n")
    out.flush()


async def run(port: int, rate: float, seconds: float, path: str) -> None:
    gate = asyncio.Semaphore(MAX_IN_FLIGHT)
    total = int(rate * seconds)
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=16)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT_SECONDS, limits=limits
    ) as client:
        with open(path, "a") as out:
            began = time.monotonic()
            pending: set[asyncio.Task[None]] = set()
            for seq in range(total):
                delay = began + seq / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await gate.acquire()
                task = asyncio.create_task(_post(client, seq, out, gate))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.wait(pending, timeout=TIMEOUT_SECONDS * 2)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.loadgen")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="leads per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True, help="JSON lines, one per request")
    args = parser.parse_args()
    asyncio.run(run(args.port, args.rate, args.seconds, args.out))


if __name__ == "__main__":
    main()
