"""The demo's webhook receiver: what a buyer's system does with a delivery, in a few lines.

``leadflow up --demo`` runs it on 127.0.0.1 and points every demo provider's endpoint at it, so a newcomer sees signed deliveries arrive: each one is verified with
``leadflow.webhooks.verify`` and logged, and ``GET /`` lists the last ones received.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

from leadflow.webhooks import verify

log = structlog.get_logger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
MAX_BODY = 1024 * 1024
KEEP = 50


class DemoReceiver:
    """An ASGI app: ``POST /hook`` takes a delivery, ``GET /`` shows the last ones."""

    def __init__(self) -> None:
        # One per demo provider's endpoint: a delivery signed with any of them is genuine.
        self.secrets: list[str] = []
        self.received: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEEP)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == "/":
            await _reply(send, 200, {"received": list(reversed(self.received))})
            return
        if scope["method"] != "POST" or scope["path"] != "/hook":
            await _reply(send, 404, {"error": "not found"})
            return
        body = await _body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        signature = headers.get("leadflow-signature", "")
        valid = any(verify(secret, signature, body) for secret in self.secrets)
        if not valid:
            log.warning("demo_webhook_refused", reason="bad signature")
            await _reply(send, 401, {"error": "bad signature"})
            return
        delivery = json.loads(body)
        seen = {
            "delivery_id": headers.get("leadflow-delivery"),
            "event": delivery.get("event"),
            "lead_id": (delivery.get("lead") or {}).get("id") or delivery.get("lead_id"),
            "signature_valid": valid,
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        # A real receiver deduplicates by delivery id: delivery is at least once.
        if all(r["delivery_id"] != seen["delivery_id"] for r in self.received):
            self.received.append(seen)
        log.info("demo_webhook_received", **seen)
        await _reply(send, 200, {"ok": True})


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(send: Send, status: int, document: object) -> None:
    payload = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})
