"""User accounts for admins: list them, disable or enable one. A disabled account cannot log
in and its sessions (API tokens and console cookies alike) end at once (SPEC §8)."""

from __future__ import annotations

from uuid import UUID

from leadflow.db import audit
from leadflow.db import auth as auth_db
from leadflow.db import users as db
from leadflow.db.connection import Connection
from leadflow.domain.errors import InvalidInput, InvalidState, found
from leadflow.domain.model import Actor, ActorRole
from leadflow.services.pages import Page, PageRequest

ROLES = (ActorRole.ADMIN, ActorRole.PROVIDER)


def list_users(
    tx: Connection, *, role: str | None, is_active: bool | None, page: PageRequest
) -> Page[db.UserView]:
    if role is not None and role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    total, items = db.list_users(
        tx, role=role, is_active=is_active, limit=page.limit, offset=page.offset
    )
    return Page.of(page, total, items)


def get_user(tx: Connection, *, user_id: UUID) -> db.UserView:
    return found(db.get_user_view(tx, user_id), "user", user_id)


def set_active(tx: Connection, *, actor: Actor, user_id: UUID, active: bool) -> db.UserView:
    """Enable or disable an account; disabling revokes its sessions in the same transaction.
    Already so: nothing changes and nothing is audited. An admin cannot disable themselves
    (409: the console would lock them out mid-request)."""
    if not active and actor.id == str(user_id):
        raise InvalidState("you cannot disable your own account")
    user = found(auth_db.get_user(tx, user_id, lock=True), "user", user_id)
    if user.is_active != active:
        db.set_active(tx, user_id, active=active)
        if not active:
            auth_db.revoke_user_sessions(tx, user_id)
        audit.record(
            tx,
            actor,
            "user.enabled" if active else "user.disabled",
            "user",
            user_id,
            {"email": user.email, "role": str(user.role)},
        )
    return get_user(tx, user_id=user_id)
