"""``/auth``: password login, admin MFA, logout."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from leadflow.api.deps import ClientAddress, Context, CurrentPrincipal, TokenDep, Tx
from leadflow.api.routes.common import API_PREFIX, errors
from leadflow.api.schemas.auth import LoginIn, LoginOut, MfaIn, TokenOut
from leadflow.services import auth

router = APIRouter(prefix=f"{API_PREFIX}/auth", tags=["auth"])


@router.post("/login", response_model=LoginOut, responses=errors(401, 403, 429))
def login(body: LoginIn, context: Context, address: ClientAddress) -> LoginOut:
    """Admins get ``{mfa_required: true, mfa_token}``; provider users their access token."""
    result = auth.login(
        context.pool,
        passwords=context.passwords,
        token_ttl=context.settings.token_ttl,
        email=body.email,
        password=body.password,
        client_address=address,
    )
    if result.token is not None:
        return LoginOut(
            mfa_required=False,
            access_token=result.token.access_token,
            token_type=result.token.token_type,
            expires_at=result.token.expires_at,
        )
    return LoginOut(mfa_required=True, mfa_token=result.mfa_token)


@router.post("/mfa", response_model=TokenOut, responses=errors(401, 429))
def mfa(body: MfaIn, context: Context, address: ClientAddress) -> TokenOut:
    """Trade the ``mfa_token`` and a current TOTP code for an access token."""
    token = auth.verify_mfa(
        context.pool,
        token_ttl=context.settings.token_ttl,
        mfa_token=body.mfa_token,
        code=body.code,
        client_address=address,
    )
    return TokenOut(access_token=token.access_token, expires_at=token.expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(principal: CurrentPrincipal, token: TokenDep, tx: Tx) -> Response:
    """Revoke the token used for this request."""
    auth.logout(tx, token=token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
