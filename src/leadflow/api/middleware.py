"""ASGI middleware: request id and access log, body limits (413, 415), latency metric."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadflow import metrics

log = structlog.get_logger("leadflow.http")
MAX_BODY_BYTES = 64 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The console's pages (``leadflow.console``) take HTML forms, urlencoded.
FORM_PATHS = ("/console/", "/portal/")
_FORM_MEDIA_TYPE = re.compile(r"^\s*application/x-www-form-urlencoded\s*(;|$)", re.IGNORECASE)
_JSON_MEDIA_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json\s*(?:;|$)", re.IGNORECASE)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RequestContext:
    """Wraps every HTTP request: binds ``request_id`` for the logs, refuses bodies over the limit
    and bodies that are not JSON, records ``http_request_duration_seconds`` by route template
    and status."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise StarletteHTTPException(
                        413, f"request body over {self.max_body_bytes} bytes"
                    )
            return message

        try:
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body_bytes:
                await _refuse(
                    send_with_id,
                    413,
                    "Request body too large",
                    f"request body over {self.max_body_bytes} bytes",
                )
            elif _unsupported_body(scope["method"], scope["path"], headers):
                await _refuse(
                    send_with_id, 415, "Unsupported media type", "request bodies must be JSON"
                )
            else:
                await self.app(scope, limited_receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            metrics.http_request_duration_seconds.labels(
                method=scope["method"], route=route, status=str(status)
            ).observe(elapsed)
            # Ids from the path (lead, job, ...) make a request findable; never bodies or queries.
            ids = {k: str(v) for k, v in scope.get("path_params", {}).items() if k.endswith("_id")}
            log.info(
                "http_request",
                method=scope["method"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                **ids,
            )


def _unsupported_body(method: str, path: str, headers: dict[str, str]) -> bool:
    """A body (declared by its length or chunked) whose ``Content-Type`` is missing or not JSON;
    on the console's pages, not an HTML form's."""
    if method not in BODY_METHODS:
        return False
    length = headers.get("content-length", "")
    has_body = (length.isdigit() and int(length) > 0) or "transfer-encoding" in headers
    accepted = _FORM_MEDIA_TYPE if path.startswith(FORM_PATHS) else _JSON_MEDIA_TYPE
    return has_body and not accepted.match(headers.get("content-type", ""))


async def _refuse(send: Send, status: int, title: str, detail: str) -> None:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    body = json.dumps(
        {"type": f"urn:leadflow:problem:{slug}", "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
