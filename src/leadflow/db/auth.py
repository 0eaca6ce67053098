"""SQL for users, sessions, MFA challenges and the failed-login record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row
from leadflow.domain.model import ActorRole


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: UUID
    email: str
    password_hash: str
    role: ActorRole
    provider_id: UUID | None
    mfa_secret: str | None
    last_totp_step: int | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionPrincipal:
    """Who holds a valid access token."""

    session_id: UUID
    user_id: UUID
    role: ActorRole
    provider_id: UUID | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ChallengeRecord:
    id: UUID
    user_id: UUID
    expires_at: datetime
    failed_attempts: int
    used_at: datetime | None
    expired: bool


def insert_user(
    conn: Connection,
    *,
    email: str,
    password_hash: str,
    role: str,
    provider_id: UUID | None = None,
    mfa_secret: str | None = None,
) -> UserRecord:
    with conn.cursor(row_factory=record_row(UserRecord)) as cur:
        row = cur.execute(
            """
            INSERT INTO users (email, password_hash, role, provider_id, mfa_secret)
            VALUES (%s, %s, %s, %s, %s) RETURNING *
            """,
            (email, password_hash, role, provider_id, mfa_secret),
        ).fetchone()
    assert row is not None
    return row


def get_user_by_email(conn: Connection, email: str) -> UserRecord | None:
    with conn.cursor(row_factory=record_row(UserRecord)) as cur:
        return cur.execute(
            "SELECT * FROM users WHERE lower(email) = lower(%s)", (email,)
        ).fetchone()


def get_user(conn: Connection, user_id: UUID, *, lock: bool = False) -> UserRecord | None:
    query = (
        "SELECT * FROM users WHERE id = %s FOR NO KEY UPDATE"
        if lock
        else "SELECT * FROM users WHERE id = %s"
    )
    with conn.cursor(row_factory=record_row(UserRecord)) as cur:
        return cur.execute(query, (user_id,)).fetchone()


def provider_status(conn: Connection, provider_id: UUID) -> str | None:
    row = conn.execute("SELECT status FROM providers WHERE id = %s", (provider_id,)).fetchone()
    return None if row is None else str(row["status"])


def set_last_totp_step(conn: Connection, user_id: UUID, step: int) -> None:
    conn.execute(
        "UPDATE users SET last_totp_step = %s, updated_at = now() WHERE id = %s", (step, user_id)
    )


def lock_login_key(conn: Connection, account: str, client_address: str) -> None:
    """Serialize attempts on one (account, address) so concurrent guesses are all counted."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (f"{account}\n{client_address}",)
    )


def count_failures(
    conn: Connection, *, account: str, client_address: str, window_seconds: int
) -> tuple[int, int]:
    """Failures within the window: (for this account from this address, from this address)."""
    row = conn.execute(
        """
        SELECT count(*) FILTER (WHERE account = %(account)s) AS pair, count(*) AS address
        FROM login_failures
        WHERE client_address = %(address)s AND at > now() - make_interval(secs => %(window)s)
        """,
        {"account": account, "address": client_address, "window": window_seconds},
    ).fetchone()
    assert row is not None
    return int(row["pair"]), int(row["address"])


def record_failure(conn: Connection, *, account: str, client_address: str) -> int:
    row = conn.execute(
        "INSERT INTO login_failures (account, client_address) VALUES (%s, %s) RETURNING id",
        (account, client_address),
    ).fetchone()
    assert row is not None
    return int(row["id"])


def delete_failure(conn: Connection, failure_id: int) -> None:
    conn.execute("DELETE FROM login_failures WHERE id = %s", (failure_id,))


def clear_failures(conn: Connection, *, account: str, client_address: str) -> None:
    """A completed login forgives earlier typos of this account from this address."""
    conn.execute(
        "DELETE FROM login_failures WHERE account = %s AND client_address = %s",
        (account, client_address),
    )


def prune_failures(conn: Connection, *, older_than_seconds: int) -> None:
    conn.execute(
        "DELETE FROM login_failures WHERE at < now() - make_interval(secs => %s)",
        (older_than_seconds,),
    )


def insert_challenge(conn: Connection, *, user_id: UUID, token_hash: str, ttl_seconds: int) -> None:
    conn.execute(
        """
        INSERT INTO mfa_challenges (user_id, token_hash, expires_at)
        VALUES (%s, %s, now() + make_interval(secs => %s))
        """,
        (user_id, token_hash, ttl_seconds),
    )


def get_challenge(conn: Connection, token_hash: str) -> ChallengeRecord | None:
    """The challenge, locked: its wrong-code count changes under this lock."""
    with conn.cursor(row_factory=record_row(ChallengeRecord)) as cur:
        return cur.execute(
            """
            SELECT id, user_id, expires_at, failed_attempts, used_at, expires_at <= now() AS expired
            FROM mfa_challenges WHERE token_hash = %s FOR UPDATE
            """,
            (token_hash,),
        ).fetchone()


def fail_challenge(conn: Connection, challenge_id: UUID, *, max_failures: int) -> None:
    conn.execute(
        """
        UPDATE mfa_challenges SET failed_attempts = failed_attempts + 1,
               used_at = CASE WHEN failed_attempts + 1 >= %s THEN now() ELSE used_at END
        WHERE id = %s
        """,
        (max_failures, challenge_id),
    )


def use_challenge(conn: Connection, challenge_id: UUID) -> None:
    conn.execute("UPDATE mfa_challenges SET used_at = now() WHERE id = %s", (challenge_id,))


def insert_session(
    conn: Connection, *, user_id: UUID, token_hash: str, ttl_seconds: int
) -> datetime:
    row = conn.execute(
        """
        INSERT INTO sessions (user_id, token_hash, expires_at)
        VALUES (%s, %s, now() + make_interval(secs => %s)) RETURNING expires_at
        """,
        (user_id, token_hash, ttl_seconds),
    ).fetchone()
    assert row is not None
    expires_at: datetime = row["expires_at"]
    return expires_at


def get_principal(conn: Connection, token_hash: str) -> SessionPrincipal | None:
    """The holder of a live token: not expired, not revoked, user active, provider not suspended."""
    with conn.cursor(row_factory=record_row(SessionPrincipal)) as cur:
        return cur.execute(
            """
            SELECT s.id AS session_id, u.id AS user_id, u.role, u.provider_id, s.expires_at
            FROM sessions s
            JOIN users u ON u.id = s.user_id
            LEFT JOIN providers p ON p.id = u.provider_id
            WHERE s.token_hash = %s AND s.revoked_at IS NULL AND s.expires_at > now()
              AND u.is_active AND (u.provider_id IS NULL OR p.status = 'active')
            """,
            (token_hash,),
        ).fetchone()


def revoke_session(conn: Connection, token_hash: str) -> bool:
    row = conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE token_hash = %s AND revoked_at IS NULL RETURNING id",
        (token_hash,),
    ).fetchone()
    return row is not None


def revoke_provider_sessions(conn: Connection, provider_id: UUID) -> int:
    """Revoke every live token of a provider's users (on suspension)."""
    rows = conn.execute(
        """
        UPDATE sessions s SET revoked_at = now()
        FROM users u
        WHERE u.id = s.user_id AND u.provider_id = %s AND s.revoked_at IS NULL
        RETURNING s.id
        """,
        (provider_id,),
    ).fetchall()
    return len(rows)


def set_credentials(
    conn: Connection, *, email: str, password_hash: str, mfa_secret: str
) -> UUID | None:
    """Replace an admin's password and TOTP secret; returns the user id (None if no such admin)."""
    row = conn.execute(
        """
        UPDATE users SET password_hash = %s, mfa_secret = %s, last_totp_step = NULL, updated_at = now()
        WHERE lower(email) = lower(%s) AND role = 'admin'
        RETURNING id
        """,
        (password_hash, mfa_secret, email),
    ).fetchone()
    return None if row is None else UUID(str(row["id"]))


def revoke_user_sessions(conn: Connection, user_id: UUID) -> None:
    conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
        (user_id,),
    )


def prune_expired(conn: Connection, *, older_than_seconds: int) -> None:
    """Forget MFA challenges and sessions that ended long ago."""
    conn.execute(
        "DELETE FROM mfa_challenges WHERE expires_at < now() - make_interval(secs => %s)",
        (older_than_seconds,),
    )
    conn.execute(
        """
        DELETE FROM sessions
        WHERE COALESCE(revoked_at, expires_at) < now() - make_interval(secs => %s)
          AND expires_at < now()
        """,
        (older_than_seconds,),
    )


def slide_session(
    conn: Connection, token_hash: str, *, idle_seconds: int, absolute_seconds: int
) -> SessionPrincipal | None:
    """A console session's holder, its expiry pushed ``idle_seconds`` ahead but never past
    ``absolute_seconds`` after it began; None when it ended (idle, absolute, revoked)."""
    with conn.cursor(row_factory=record_row(SessionPrincipal)) as cur:
        return cur.execute(
            """
            UPDATE sessions s
            SET expires_at = LEAST(now() + make_interval(secs => %(idle)s),
                                   s.created_at + make_interval(secs => %(absolute)s))
            FROM users u LEFT JOIN providers p ON p.id = u.provider_id
            WHERE u.id = s.user_id AND s.token_hash = %(hash)s AND s.revoked_at IS NULL
              AND s.expires_at > now()
              AND s.created_at + make_interval(secs => %(absolute)s) > now()
              AND u.is_active AND (u.provider_id IS NULL OR p.status = 'active')
            RETURNING s.id AS session_id, u.id AS user_id, u.role, u.provider_id, s.expires_at
            """,
            {"hash": token_hash, "idle": idle_seconds, "absolute": absolute_seconds},
        ).fetchone()


def set_password(conn: Connection, *, email: str, password_hash: str) -> UUID | None:
    """Replace a user's password; returns the user id (None if there is no such user)."""
    row = conn.execute(
        """
        UPDATE users SET password_hash = %s, updated_at = now()
        WHERE lower(email) = lower(%s) RETURNING id
        """,
        (password_hash, email),
    ).fetchone()
    return None if row is None else UUID(str(row["id"]))
