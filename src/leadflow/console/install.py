"""Wires the console into the API app: its routers, static files, security headers and the
HTML form of the API's errors on its paths."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadflow.api import problems
from leadflow.console import (
    pages_admin,
    pages_auth,
    pages_deliveries,
    pages_endpoints,
    pages_fairness,
    pages_niches,
    pages_portal,
    pages_portal_endpoints,
    pages_providers,
    pages_returns,
    pages_subscriptions,
    pages_users,
)
from leadflow.console.render import HERE, redirect, render
from leadflow.console.web import LoginRequired
from leadflow.domain.errors import DomainError

PREFIXES = ("/console", "/portal")
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
NO_STORE = (b"cache-control", b"no-store")


def is_console(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PREFIXES)


class SecurityHeaders:
    """The console's pages and files: a strict CSP, no framing; pages are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not is_console(path):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [*SECURITY_HEADERS]
                if not path.startswith("/console/static/"):
                    extra.append(NO_STORE)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _html_or(api_handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if not is_console(request.url.path):
            return await api_handler(request, exc)
        status, detail = _status_and_detail(exc)
        return render(
            request, "error.html", viewer=None, status_code=status, status=status, detail=detail
        )

    return handle


def _status_and_detail(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, DomainError):
        return problems.status_of(exc), exc.detail
    if isinstance(exc, RequestValidationError):
        if any(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
            return 404, "no such page"
        return 422, "the form or the address holds a value that is not valid"
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, exc.detail if isinstance(exc.detail, str) else "error"
    return 500, "an unexpected error occurred; it has been logged"


async def _login_required(request: Request, exc: Exception) -> Response:
    target = request.url.path if request.method == "GET" else ""
    query = f"?next={target}" if target and target not in ("/console", "/portal") else ""
    return redirect(f"/console/login{query}")


def install(app: FastAPI) -> None:
    handlers: dict[Any, Handler] = {
        DomainError: problems._domain_error,
        RequestValidationError: problems._validation_error,
        StarletteHTTPException: problems._http_error,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, _html_or(handler))
    app.add_exception_handler(LoginRequired, _login_required)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for router in (
        pages_auth.router,
        pages_admin.router,
        pages_niches.router,
        pages_providers.router,
        pages_subscriptions.router,
        pages_returns.router,
        pages_fairness.router,
        pages_users.router,
        pages_deliveries.router,
        pages_endpoints.router,
        pages_portal.router,
        pages_portal_endpoints.router,
    ):
        app.include_router(router, include_in_schema=False)
    app.add_middleware(SecurityHeaders)
