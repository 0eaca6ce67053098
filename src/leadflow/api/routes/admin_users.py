"""Admin: user accounts, and disabling or enabling one (its sessions end at once)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from leadflow.api.deps import CurrentAdmin, Paging, Tx, current_admin
from leadflow.api.routes.common import API_PREFIX, errors, page_out
from leadflow.api.schemas.base import PageOut
from leadflow.api.schemas.users import UserOut
from leadflow.services import users

router = APIRouter(
    prefix=f"{API_PREFIX}/admin", tags=["admin: users"], dependencies=[Depends(current_admin)]
)


@router.get("/users", response_model=PageOut[UserOut])
def list_users(
    tx: Tx,
    paging: Paging,
    role: Literal["admin", "provider"] | None = None,
    is_active: Annotated[bool | None, Query()] = None,
) -> PageOut[UserOut]:
    """Accounts, oldest first, by role and whether they are active."""
    return page_out(
        users.list_users(tx, role=role, is_active=is_active, page=paging), UserOut.model_validate
    )


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: UUID, tx: Tx) -> UserOut:
    return UserOut.model_validate(users.get_user(tx, user_id=user_id))


@router.post("/users/{user_id}/disable", response_model=UserOut, responses=errors(409))
def disable_user(user_id: UUID, admin: CurrentAdmin, tx: Tx) -> UserOut:
    """The account cannot log in any more and its sessions (API tokens, console cookies) end
    now; disabling a disabled account changes nothing. Your own account → 409."""
    return UserOut.model_validate(users.set_active(tx, actor=admin, user_id=user_id, active=False))


@router.post("/users/{user_id}/enable", response_model=UserOut)
def enable_user(user_id: UUID, admin: CurrentAdmin, tx: Tx) -> UserOut:
    """The account can log in again (its old sessions stay ended)."""
    return UserOut.model_validate(users.set_active(tx, actor=admin, user_id=user_id, active=True))
