"""The console's cookie session, CSRF tokens, the viewer of a page, and its dependencies.

The cookie holds an opaque session token, stored hashed in ``sessions`` like an API token and
revoked the same way; each use keeps it alive for the idle timeout, up to the absolute one.
A form's CSRF token is an HMAC of the session token, so only a page of this session has it.
Before login (no session yet) the login forms use a random token doubled in a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Form, Request, Response

from leadflow.api.deps import Context
from leadflow.domain.errors import AccessDenied, AuthenticationFailed
from leadflow.domain.model import Actor, ActorRole
from leadflow.services import auth
from leadflow.settings import Settings

SESSION_COOKIE = "lf_session"
LOGIN_CSRF_COOKIE = "lf_login_csrf"
MFA_COOKIE = "lf_mfa"
CSRF_REFUSED = "the form's CSRF token is missing or wrong; reload the page and try again"


class LoginRequired(Exception):
    """No live session: the page answers with a redirect to the login form."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks at a page, and the CSRF token of their forms."""

    user_id: UUID
    role: ActorRole
    provider_id: UUID | None
    csrf_token: str

    @property
    def actor(self) -> Actor:
        return Actor(role=self.role, id=str(self.user_id))


def csrf_for(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"leadflow-console-csrf", hashlib.sha256).hexdigest()


def secure_cookies(request: Request, settings: Settings) -> bool:
    public = settings.public_url or ""
    return request.url.scheme == "https" or public.lower().startswith("https://")


def set_cookie(
    response: Response,
    request: Request,
    settings: Settings,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request, settings),
    )


def viewer(request: Request, context: Context) -> Viewer:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired
    try:
        principal = auth.authenticate_session(
            context.pool,
            token=token,
            idle_seconds=context.settings.console_idle_timeout,
            absolute_seconds=context.settings.console_absolute_timeout,
        )
    except AuthenticationFailed:
        raise LoginRequired from None
    return Viewer(
        user_id=principal.user_id,
        role=principal.role,
        provider_id=principal.provider_id,
        csrf_token=csrf_for(token),
    )


AnyViewer = Annotated[Viewer, Depends(viewer)]


async def admin_viewer(v: AnyViewer) -> Viewer:
    if v.role != ActorRole.ADMIN:
        raise AccessDenied("the console is for admins")
    return v


async def provider_viewer(v: AnyViewer) -> Viewer:
    if v.role != ActorRole.PROVIDER or v.provider_id is None:
        raise AccessDenied("the portal is for provider users")
    return v


AdminViewer = Annotated[Viewer, Depends(admin_viewer)]
ProviderViewer = Annotated[Viewer, Depends(provider_viewer)]


async def checked_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Refuse a state-changing form whose token is not this session's (before anything runs)."""
    session = request.cookies.get(SESSION_COOKIE, "")
    if not session or not hmac.compare_digest(csrf_for(session), csrf_token):
        raise AccessDenied(CSRF_REFUSED)


async def checked_login_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        raise AccessDenied(CSRF_REFUSED)


Csrf = Depends(checked_csrf)
LoginCsrf = Depends(checked_login_csrf)


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)
