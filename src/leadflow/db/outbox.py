"""The email outbox: mails are rows first, written in the transaction that causes them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from leadflow.db.connection import Connection


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    template: str
    to_address: str
    subject: str
    body_text: str
    provider_id: UUID | None = None
    lead_id: UUID | None = None


def message_id_for(mail_id: UUID) -> str:
    """A Message-ID fixed per outbox row, so a resend after a crash is recognisable."""
    return f"<{mail_id}@leadflow>"


def enqueue(conn: Connection, mails: Iterable[OutgoingMail]) -> list[UUID]:
    """Insert mails as ``pending`` in the caller's transaction; returns their ids."""
    rows = list(mails)
    if not rows:
        return []
    ids = [uuid.uuid4() for _ in rows]
    conn.execute(
        """
        INSERT INTO email_outbox (id, template, to_address, subject, body_text, message_id, provider_id, lead_id)
        SELECT * FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                             %b::uuid[], %b::uuid[])
        """,
        [
            ids,
            [m.template for m in rows],
            [m.to_address for m in rows],
            [m.subject for m in rows],
            [m.body_text for m in rows],
            [message_id_for(i) for i in ids],
            [m.provider_id for m in rows],
            [m.lead_id for m in rows],
        ],
    )
    return ids
