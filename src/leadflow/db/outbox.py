"""The email outbox: mails are rows first, made from outbox events by the dispatcher (or, for a
confirmation, written with the lead), then delivered by the worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from psycopg.types.json import Jsonb

from leadflow.db.connection import Connection


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    template: str
    to_address: str
    subject: str
    body_text: str
    provider_id: UUID | None = None
    lead_id: UUID | None = None
    event_id: int | None = None  # the outbox event it was made from


def message_id_for(mail_id: UUID) -> str:
    """A Message-ID fixed per outbox row, so a resend after a crash is recognisable."""
    return f"<{mail_id}@leadflow>"


# Rows from one JSON array parameter, ``%(mails)s`` (``payload``): one value to send however
# many mails.
_INSERT_FROM_PAYLOAD = """
    INSERT INTO email_outbox (id, template, to_address, subject, body_text, message_id,
                              provider_id, lead_id, event_id)
    SELECT m.id, m.template, m.to_address, m.subject, m.body_text, m.message_id, m.provider_id,
           m.lead_id, m.event_id
    FROM jsonb_to_recordset(%(mails)s::jsonb)
         AS m(id uuid, template text, to_address text, subject text, body_text text,
              message_id text, provider_id uuid, lead_id uuid, event_id bigint)
"""


def payload(mails: Iterable[OutgoingMail]) -> tuple[Jsonb, list[UUID]]:
    """The ``%(mails)s`` parameter of ``_INSERT_FROM_PAYLOAD``, and the ids it gives the mails."""
    rows = list(mails)
    ids = [uuid.uuid4() for _ in rows]
    return Jsonb(
        [
            {
                "id": str(mail_id),
                "template": m.template,
                "to_address": m.to_address,
                "subject": m.subject,
                "body_text": m.body_text,
                "message_id": message_id_for(mail_id),
                "provider_id": None if m.provider_id is None else str(m.provider_id),
                "lead_id": None if m.lead_id is None else str(m.lead_id),
                "event_id": m.event_id,
            }
            for mail_id, m in zip(ids, rows, strict=True)
        ]
    ), ids


def enqueue(conn: Connection, mails: Iterable[OutgoingMail]) -> list[UUID]:
    """Insert mails as ``pending`` in the caller's transaction; returns their ids."""
    rows = list(mails)
    if not rows:
        return []
    values, ids = payload(rows)
    conn.execute(_INSERT_FROM_PAYLOAD, {"mails": values})
    return ids
