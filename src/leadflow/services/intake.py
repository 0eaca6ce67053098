"""Public lead intake and confirmation by mailed token.

Intake is the busiest public write: the rate-limit hit and the lead are one statement, on
its own (autocommit) unless a confirmation mail must commit with the lead.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from leadflow.db import audit, jobs, limits, outbox
from leadflow.db import lead_views as db
from leadflow.db.connection import AsyncConnection, Connection, transaction
from leadflow.domain.errors import InvalidInput, NotFound, RateLimited
from leadflow.domain.model import Actor, ActorRole
from leadflow.mail.render import render
from leadflow.services.auth import hash_token
from leadflow.services.limits import Rate

log = structlog.get_logger(__name__)
CONFIRMATION_TEMPLATE = "lead_confirmation"
CONFIRMATION_THROTTLE_SECONDS = 10 * 60
# A mailed confirmation token confirms its lead for a week after intake.
CONFIRMATION_TOKEN_VALID_SECONDS = 7 * 86400
MAX_ATTRIBUTES_BYTES = 16 * 1024
MAX_TEXT = 1000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().\-]{6,32}$")
_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,14}[A-Za-z0-9]$")


@dataclass(frozen=True, slots=True)
class IntakeResult:
    id: UUID
    status: str


@dataclass(frozen=True, slots=True)
class LeadForm:
    niche: str
    name: str
    email: str
    phone: str
    postal_code: str
    attributes: dict[str, Any]


def validate(form: LeadForm) -> LeadForm:
    """Normalize and check a submitted lead; raise ``InvalidInput`` naming the field."""
    name = form.name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("name must be 1..200 characters")
    email = form.email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput("email must be an e-mail address")
    phone = form.phone.strip()
    if not _PHONE.match(phone) or sum(c.isdigit() for c in phone) < 6:
        raise InvalidInput("phone must be a phone number (6..32 digits, spaces, + - ( ) .)")
    postal_code = form.postal_code.strip()
    if not _POSTAL.match(postal_code):
        raise InvalidInput("postal_code must be 3..16 letters, digits, spaces or dashes")
    try:
        encoded = json.dumps(form.attributes, ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise InvalidInput(
            "attributes must be a JSON object of finite numbers and valid text"
        ) from exc
    if len(encoded) > MAX_ATTRIBUTES_BYTES:
        raise InvalidInput(f"attributes must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON")
    _check_strings(form.attributes, "attributes")
    return LeadForm(
        niche=form.niche.strip(),
        name=name,
        email=email,
        phone=phone,
        postal_code=postal_code,
        attributes=form.attributes,
    )


def submit_lead(
    pool: ConnectionPool[Connection], *, form: LeadForm, client_address: str, rate: Rate | None
) -> IntakeResult:
    """Store a consumer's lead; mail a confirmation token when the niche requires one."""
    lead, token = _prepare(form)
    return _submit_in_transaction(pool, lead, token, hit=_hit(client_address, rate))


async def submit_lead_async(
    pool: ConnectionPool[Connection],
    autocommit_pool: AsyncConnectionPool[AsyncConnection],
    *,
    form: LeadForm,
    client_address: str,
    rate: Rate | None,
) -> IntakeResult:
    """``submit_lead`` for the event loop, the busiest public write: a lead into a niche that
    requires no confirmation is one autocommitted statement (its rate-limit hit included; one
    round trip, no worker thread). A confirmation mail must commit with its lead, so a lead into
    a niche that requires one takes ``submit_lead``'s transaction in a worker thread."""
    lead, token = _prepare(form)
    hit = _hit(client_address, rate)
    async with autocommit_pool.connection() as conn:
        row = _accepted(await db.insert_intake_lead_unless_confirmation(conn, lead, hit=hit))
    if row.id is not None and row.status is not None:
        return _submitted(row.id, row.status)
    return await asyncio.to_thread(_submit_in_transaction, pool, lead, token, hit=hit)


def _prepare(form: LeadForm) -> tuple[db.IntakeLead, str]:
    """The validated lead to store, and the confirmation token that its stored hash is of."""
    form = validate(form)
    token = secrets.token_urlsafe(24)
    lead = db.IntakeLead(
        niche_slug=form.niche,
        name=form.name,
        email=form.email,
        phone=form.phone,
        postal_code=form.postal_code,
        attributes=form.attributes,
        confirmation_token_hash=hash_token(token),
    )
    return lead, token


def _hit(client_address: str, rate: Rate | None) -> limits.Hit | None:
    if rate is None:
        return None
    return limits.Hit(
        key=f"intake:{client_address}", limit=rate.limit, window_seconds=rate.window_seconds
    )


def _submit_in_transaction(
    pool: ConnectionPool[Connection], lead: db.IntakeLead, token: str, *, hit: limits.Hit | None
) -> IntakeResult:
    with transaction(pool) as conn:
        row = _accepted(db.insert_intake_lead(conn, lead, hit=hit))
        # Told it may confirm, the statement stores every lead it does not refuse.
        assert row.id is not None and row.status is not None
        if row.require_confirmation:
            _mail_confirmation(conn, row.id, row.niche_name, lead, token)
    return _submitted(row.id, row.status)


def _accepted(row: db.IntakeRow | None) -> db.IntakeRow:
    if row is None:
        raise InvalidInput("niche must be the slug of an active niche")
    if row.rate_limited:
        raise RateLimited("too many leads from this address; try again later")
    return row


def _submitted(lead_id: UUID, status: str) -> IntakeResult:
    """After the commit: the per-lead log line (ids and status, never the consumer's data)."""
    log.info("lead_submitted", lead_id=str(lead_id), status=status)
    return IntakeResult(id=lead_id, status=status)


def confirm_lead(tx: Connection, *, token: str) -> IntakeResult:
    """The consumer proves the e-mail address: the lead goes on to approval."""
    if not token or len(token) > MAX_TEXT:
        raise InvalidInput("token must be 1..1000 characters")
    confirmed = db.confirm_by_token(
        tx, hash_token(token), valid_seconds=CONFIRMATION_TOKEN_VALID_SECONDS
    )
    if confirmed is None:
        raise NotFound("confirmation token", "given")
    lead_id, status = confirmed
    audit.record(tx, Actor(role=ActorRole.PUBLIC), "lead.confirmed", "lead", lead_id)
    return IntakeResult(id=lead_id, status=status)


def _mail_confirmation(
    conn: Connection, lead_id: UUID, niche_name: str, lead: db.IntakeLead, token: str
) -> None:
    # At most one confirmation mail per recipient per 10 minutes; later leads of the same
    # recipient wait for a mail until the window has passed (their token is still valid).
    db.lock_recipient(conn, lead.email)
    recent = db.recent_confirmation_count(
        conn, to_address=lead.email, within_seconds=CONFIRMATION_THROTTLE_SECONDS
    )
    if recent:
        return
    mail = render(CONFIRMATION_TEMPLATE, niche_name=niche_name, name=lead.name, token=token)
    outbox.enqueue(
        conn,
        [
            outbox.OutgoingMail(
                template=CONFIRMATION_TEMPLATE,
                to_address=lead.email,
                subject=mail.subject,
                body_text=mail.body_text,
                lead_id=lead_id,
            )
        ],
    )
    jobs.defer_mail_delivery(conn)


def _check_strings(value: object, where: str) -> None:
    if isinstance(value, str):
        if len(value) > MAX_TEXT or "\x00" in value:
            raise InvalidInput(
                f"{where}: strings must be at most {MAX_TEXT} characters, without NUL"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, where)
            _check_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{where}[{index}]")
