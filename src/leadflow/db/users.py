"""SQL for the admin's view of user accounts: the list, and turning an account on or off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import ActorRole


@dataclass(frozen=True, slots=True)
class UserView:
    """An account as admins see it (never its password hash or TOTP secret)."""

    id: UUID
    email: str
    role: ActorRole
    provider_id: UUID | None
    provider_name: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


def list_users(
    conn: Connection, *, role: str | None, is_active: bool | None, limit: int, offset: int
) -> tuple[int, list[UserView]]:
    """Oldest first; the total counts every match."""
    params = {"role": role, "active": is_active, "limit": limit, "offset": offset}
    total = conn.execute(
        """
        SELECT count(*) AS n FROM users u
        WHERE (%(role)s::text IS NULL OR u.role = %(role)s)
          AND (%(active)s::boolean IS NULL OR u.is_active = %(active)s)
        """,
        params,
    ).fetchone()
    assert total is not None
    with conn.cursor(row_factory=record_row(UserView)) as cur:
        rows = cur.execute(
            """
            SELECT u.id, u.email, u.role, u.provider_id, p.name AS provider_name, u.is_active,
                   u.created_at, u.updated_at
            FROM users u LEFT JOIN providers p ON p.id = u.provider_id
            WHERE (%(role)s::text IS NULL OR u.role = %(role)s)
              AND (%(active)s::boolean IS NULL OR u.is_active = %(active)s)
            ORDER BY u.created_at, u.id LIMIT %(limit)s OFFSET %(offset)s
            """,
            params,
        ).fetchall()
    return int(total["n"]), rows


def get_user_view(conn: Connection, user_id: UUID) -> UserView | None:
    with conn.cursor(row_factory=record_row(UserView)) as cur:
        return cur.execute(
            """
            SELECT u.id, u.email, u.role, u.provider_id, p.name AS provider_name, u.is_active,
                   u.created_at, u.updated_at
            FROM users u LEFT JOIN providers p ON p.id = u.provider_id
            WHERE u.id = %s
            """,
            (user_id,),
        ).fetchone()


def set_active(conn: Connection, user_id: UUID, *, active: bool) -> None:
    conn.execute(
        "UPDATE users SET is_active = %s, updated_at = now() WHERE id = %s", (active, user_id)
    )
