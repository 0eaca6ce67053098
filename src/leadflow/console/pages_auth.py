"""Login (password, then a TOTP code for admins) and logout, over ``services.auth``: the same
throttling, MFA rules and sessions as the API's tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from leadflow.api.deps import ClientAddress, Context, Tx
from leadflow.console import web
from leadflow.console.render import local_path, redirect, render
from leadflow.domain.errors import AccessDenied, AuthenticationFailed, RateLimited
from leadflow.domain.model import ActorRole
from leadflow.services import auth

router = APIRouter()
FormText = Annotated[str, Form(max_length=1000)]


def _login_page(
    request: Request, context: Context, *, template: str, error: str | None = None, **extra: str
) -> Response:
    token = request.cookies.get(web.LOGIN_CSRF_COOKIE) or web.new_login_csrf()
    response = render(
        request,
        template,
        viewer=None,
        status_code=401 if error else 200,
        csrf_token=token,
        error=error,
        next=local_path(request.query_params.get("next"), ""),
        **extra,
    )
    web.set_cookie(response, request, context.settings, web.LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/console/login")
def login_form(request: Request, context: Context) -> Response:
    return _login_page(request, context, template="login.html", email="")


@router.post("/console/login", dependencies=[web.LoginCsrf])
def login(
    request: Request,
    context: Context,
    address: ClientAddress,
    email: FormText = "",
    password: FormText = "",
    next: FormText = "",
) -> Response:
    try:
        result = auth.login(
            context.pool,
            passwords=context.passwords,
            token_ttl=context.settings.console_idle_timeout,
            email=email,
            password=password,
            client_address=address,
        )
    except (AuthenticationFailed, RateLimited, AccessDenied) as exc:
        return _login_page(request, context, template="login.html", error=exc.detail, email=email)
    if result.mfa_required:
        assert result.mfa_token is not None
        target = "/console/login/mfa" + (f"?next={next}" if local_path(next, "") else "")
        response: Response = redirect(target)
        web.set_cookie(
            response,
            request,
            context.settings,
            web.MFA_COOKIE,
            result.mfa_token,
            max_age=auth.MFA_TOKEN_TTL_SECONDS,
        )
        return response
    assert result.token is not None
    return _signed_in(request, context, result.token.access_token, local_path(next, "/portal"))


@router.get("/console/login/mfa")
def mfa_form(request: Request, context: Context) -> Response:
    if not request.cookies.get(web.MFA_COOKIE):
        return redirect("/console/login")
    return _login_page(request, context, template="mfa.html")


@router.post("/console/login/mfa", dependencies=[web.LoginCsrf])
def mfa(
    request: Request,
    context: Context,
    address: ClientAddress,
    code: FormText = "",
    next: FormText = "",
) -> Response:
    try:
        token = auth.verify_mfa(
            context.pool,
            token_ttl=context.settings.console_idle_timeout,
            mfa_token=request.cookies.get(web.MFA_COOKIE, ""),
            code=code.strip(),
            client_address=address,
        )
    except (AuthenticationFailed, RateLimited) as exc:
        return _login_page(request, context, template="mfa.html", error=exc.detail)
    return _signed_in(request, context, token.access_token, local_path(next, "/console"))


def _signed_in(request: Request, context: Context, token: str, target: str) -> Response:
    response = redirect(target)
    web.set_cookie(response, request, context.settings, web.SESSION_COOKIE, token)
    response.delete_cookie(web.MFA_COOKIE, path="/")
    response.delete_cookie(web.LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/console/logout", dependencies=[web.Csrf])
def logout(request: Request, tx: Tx) -> Response:
    """Revoke the session, so the cookie opens nothing even if it was copied."""
    auth.logout(tx, token=request.cookies.get(web.SESSION_COOKIE, ""))
    response = redirect("/console/login", flash="You are logged out.")
    response.delete_cookie(web.SESSION_COOKIE, path="/")
    return response


def home_of(role: ActorRole) -> str:
    return "/console" if role == ActorRole.ADMIN else "/portal"
