"""The one place where errors become ``application/problem+json`` responses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import psycopg
import structlog
from fastapi import FastAPI, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from leadflow.domain.errors import (
    AccessDenied,
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidInput,
    LeadNotApproved,
    NotConfigured,
    NotFound,
    RateLimited,
)

log = structlog.get_logger(__name__)
MEDIA_TYPE = "application/problem+json"

# Most specific first: the first matching class decides the status.
STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (InvalidInput, 422),
    (LeadNotApproved, 400),
    (Conflict, 409),
    (AuthenticationFailed, 401),
    (AccessDenied, 403),
    (RateLimited, 429),
    (NotConfigured, 503),
)
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    title = title or TITLES.get(status, "Error")
    slug = kind or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    body = {
        "type": f"urn:leadflow:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    return JSONResponse(
        body, status_code=status, media_type=MEDIA_TYPE, headers=dict(headers or {})
    )


def status_of(exc: DomainError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = status_of(exc)
    headers = None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, RateLimited):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return problem(status, exc.detail, title=exc.title, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    # A malformed id in a path names nothing: 404, as an unknown id would.
    if any(err.get("loc", ("",))[0] == "path" for err in errors):
        return problem(404, "no such resource")
    return problem(422, "; ".join(_describe(err) for err in errors[:10]))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "error")
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette names the methods of the first route whose path matched; a path served by
        # several routes (GET and PATCH of one resource) supports the methods of all of them.
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return problem(exc.status_code, detail, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path."""
    methods: set[str] = set()
    for route in routing.iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(route.methods or ())
    order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    return sorted(methods, key=lambda m: (order.index(m) if m in order else len(order), m))


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # Last line of defence: a value PostgreSQL refuses (its transaction rolled back) is bad input.
    log.warning("database_refused_value", error_class=type(exc).__name__)
    return problem(422, "a value could not be stored")


# How long a client should wait before retrying when the database could not be used.
RETRY_AFTER_SECONDS = 2


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The connection broke under the request, the server is down or shutting down, no
    # connection came free in time, or a lock or statement timeout fired: nothing was committed
    # by this request, and a retry may succeed. During an outage, which the pools report once,
    # the access log line of each request is enough.
    context = getattr(request.app.state, "context", None)
    outage = context is not None and context.reachability.down
    (log.debug if outage else log.warning)("database_unavailable", error_class=type(exc).__name__)
    return problem(
        503,
        "the database is unavailable for the moment; try again",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", error_class=type(exc).__name__, exc_info=exc)
    return problem(500, "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(psycopg.DataError, _data_error)
    # Also a pool's PoolTimeout, and lock, deadlock and statement timeouts: all subclasses.
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)


def _describe(err: Mapping[str, Any]) -> str:
    # Never echo the input: it may be huge or hold a consumer's personal data.
    where = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
    return f"{where or 'body'}: {err.get('msg', 'invalid')}"
