"""SQL for delivering the email outbox: claim due mails, then record what the server said.

A claim moves the mail's ``next_attempt_at`` a lease ahead, so concurrent deliveries never take
the same mail, and a delivery that died mid-send is retried once the lease ends (at-least-once;
the stable ``Message-ID`` lets the receiver recognise the resend).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from leadflow.db.connection import Connection
from leadflow.db.rows import record_row


@dataclass(frozen=True, slots=True)
class MailToSend:
    id: UUID
    template: str
    to_address: str
    subject: str
    body_text: str
    message_id: str
    attempts: int  # including the attempt this claim starts


def claim_due(
    conn: Connection, *, limit: int, lease_seconds: int, exclude: Sequence[UUID] = ()
) -> list[MailToSend]:
    """Take up to ``limit`` pending mails that are due, counting the attempt they start."""
    with conn.cursor(row_factory=record_row(MailToSend)) as cur:
        return cur.execute(
            """
            UPDATE email_outbox o
            SET attempts = o.attempts + 1,
                next_attempt_at = now() + make_interval(secs => %(lease)s)
            FROM (SELECT id FROM email_outbox
                  WHERE status = 'pending' AND next_attempt_at <= now() AND NOT (id = ANY(%(exclude)s))
                  ORDER BY next_attempt_at, id LIMIT %(limit)s
                  FOR UPDATE SKIP LOCKED) due
            WHERE o.id = due.id
            RETURNING o.id, o.template, o.to_address, o.subject, o.body_text, o.message_id, o.attempts
            """,
            {"lease": lease_seconds, "exclude": list(exclude), "limit": limit},
        ).fetchall()


def mark_sent(conn: Connection, mail_id: UUID) -> None:
    conn.execute(
        """
        UPDATE email_outbox SET status = 'sent', sent_at = now(), last_error = NULL
        WHERE id = %s AND status = 'pending'
        """,
        (mail_id,),
    )


def mark_attempt_failed(
    conn: Connection, mail_id: UUID, *, error: str, retry_in: int | None
) -> None:
    """Record a failed attempt: due again in ``retry_in`` seconds, or ``failed`` for good."""
    conn.execute(
        """
        UPDATE email_outbox
        SET last_error = %(error)s,
            status = CASE WHEN %(retry_in)s::int IS NULL THEN 'failed' ELSE 'pending' END,
            next_attempt_at = now() + make_interval(secs => COALESCE(%(retry_in)s::int, 0))
        WHERE id = %(id)s AND status = 'pending'
        """,
        {"id": mail_id, "error": error[:1000], "retry_in": retry_in},
    )


def hold_due(conn: Connection, *, seconds: int, reason: str) -> list[tuple[UUID, str]]:
    """Without SMTP, due mails stay pending, looked at again later; returns (id, template).

    Mails another hold (or delivery) has locked are skipped, not waited for: it logs them, and
    concurrent jobs would otherwise queue behind each other on the same rows."""
    rows = conn.execute(
        """
        UPDATE email_outbox o
        SET next_attempt_at = now() + make_interval(secs => %s), last_error = %s
        FROM (SELECT id FROM email_outbox
              WHERE status = 'pending' AND next_attempt_at <= now()
              FOR UPDATE SKIP LOCKED) due
        WHERE o.id = due.id
        RETURNING o.id, o.template
        """,
        (seconds, reason),
    ).fetchall()
    return [(row["id"], row["template"]) for row in rows]


def release_held(conn: Connection, *, reason: str) -> int:
    """Make mails held for ``reason`` due now (a worker with SMTP configured starts).

    Mails leased by a delivery in progress keep their lease."""
    return conn.execute(
        "UPDATE email_outbox SET next_attempt_at = now() "
        "WHERE status = 'pending' AND next_attempt_at > now() AND last_error = %s",
        (reason,),
    ).rowcount


def has_due(conn: Connection) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM email_outbox "
        "WHERE status = 'pending' AND next_attempt_at <= now()) AS due"
    ).fetchone()
    return bool(row and row["due"])
