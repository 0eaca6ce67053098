"""API schemas of login, MFA and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    StringConstraints,
)

from leadflow.api.schemas.base import Body, Email, Out, Password, Text


class LoginIn(Body):
    email: Email
    password: Password

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "admin@example.com", "password": "s3cret-pass"}]},
    )


class LoginOut(Out):
    mfa_required: bool
    mfa_token: str | None = None
    access_token: str | None = None
    token_type: str | None = None
    expires_at: datetime | None = None


class MfaIn(Body):
    mfa_token: Text
    code: Annotated[str, StringConstraints(min_length=1, max_length=12)]

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"mfa_token": "…", "code": "123456"}]}
    )


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
