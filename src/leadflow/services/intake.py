"""Public lead intake and confirmation by mailed token.

Intake is the busiest public write: the rate-limit hit, the duplicate check and the lead are one
statement, on its own (autocommit) unless a confirmation mail must commit with the lead or the
request carries an ``Idempotency-Key`` (then the key, the lead and its answer are one
transaction).

A phone without its country code is read in the niche's ``default_region``. The region is
guessed from the last one seen for the niche (``Regions``, one per process) and the statement
stores the lead only if the guess was right; a wrong guess costs one more statement, never a
lead read in the wrong region.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from leadflow.db import audit, jobs, limits, outbox
from leadflow.db import idempotency as keys
from leadflow.db import lead_views as db
from leadflow.db.connection import AsyncConnection, Connection, transaction
from leadflow.domain.consent import Consent, check_consent, consent_document
from leadflow.domain.contact import (
    DEFAULT_REGION,
    InvalidPhone,
    normalize_email,
    normalize_phone,
    reads_without_region,
)
from leadflow.domain.errors import (
    Conflict,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
    RateLimited,
)
from leadflow.domain.model import Actor, ActorRole, LeadStatus
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
MAX_IDEMPOTENCY_KEY = 255
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().\-]{6,32}$")
_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,14}[A-Za-z0-9]$")

# The ``default_region`` last seen per niche slug: a guess the statement checks.
Regions = dict[str, str]


@dataclass(frozen=True, slots=True)
class IntakeResult:
    id: UUID
    status: str
    duplicate_of: UUID | None = None
    # The first answer of an ``Idempotency-Key`` again (HTTP 200): nothing new was stored.
    replayed: bool = False

    def document(self) -> dict[str, Any]:
        """The answer's body, as the API sends it and a key keeps it."""
        return {
            "id": str(self.id),
            "status": self.status,
            "duplicate_of": None if self.duplicate_of is None else str(self.duplicate_of),
        }


@dataclass(frozen=True, slots=True)
class LeadForm:
    niche: str
    name: str
    email: str
    phone: str
    postal_code: str
    attributes: dict[str, Any]
    consent: Consent | None = None


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
    consent = None
    if form.consent is not None:
        consent = check_consent(form.consent, now=datetime.now(UTC))
    return LeadForm(
        niche=form.niche.strip(),
        name=name,
        email=email,
        phone=phone,
        postal_code=postal_code,
        attributes=form.attributes,
        consent=consent,
    )


def body_digest(body: object) -> str:
    """SHA-256 of a request body as canonical JSON (sorted keys, no blanks): what an
    ``Idempotency-Key`` is compared by."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def check_idempotency_key(key: str) -> str:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or "\x00" in key:
        raise InvalidInput(f"Idempotency-Key must be 1..{MAX_IDEMPOTENCY_KEY} characters")
    return key


def submit_lead(
    pool: ConnectionPool[Connection],
    *,
    form: LeadForm,
    client_address: str,
    rate: Rate | None,
    regions: Regions | None = None,
    idempotency_key: str | None = None,
    body_sha256: str | None = None,
) -> IntakeResult:
    """Store a consumer's lead (a ``duplicate`` when the niche has one of the same consumer in its
    window); mail a confirmation token when the niche requires one. With an idempotency key, the
    same key and body again give the first answer, and another body ``IdempotencyConflict``."""
    form = validate(form)
    hit = _hit(client_address, rate)
    regions = {} if regions is None else regions
    if idempotency_key is not None:
        return _submit_keyed(
            pool,
            form,
            hit,
            regions,
            key=check_idempotency_key(idempotency_key),
            body_sha256=body_sha256 or body_digest(_form_document(form)),
        )
    return _submit_in_transaction(pool, form, hit, regions)


async def submit_lead_async(
    pool: ConnectionPool[Connection],
    autocommit_pool: AsyncConnectionPool[AsyncConnection],
    *,
    form: LeadForm,
    client_address: str,
    rate: Rate | None,
    regions: Regions | None = None,
    idempotency_key: str | None = None,
    body_sha256: str | None = None,
) -> IntakeResult:
    """``submit_lead`` for the event loop, the busiest public write: a lead into a niche that
    requires no confirmation is one autocommitted statement (its rate-limit hit and duplicate
    check included; one round trip, no worker thread). A confirmation mail must commit with its
    lead, and a key with its answer, so those take ``submit_lead``'s transaction in a thread."""
    form = validate(form)
    regions = {} if regions is None else regions
    if idempotency_key is not None:
        return await asyncio.to_thread(
            submit_lead,
            pool,
            form=form,
            client_address=client_address,
            rate=rate,
            regions=regions,
            idempotency_key=idempotency_key,
            body_sha256=body_sha256,
        )
    hit = _hit(client_address, rate)
    region = regions.get(form.niche, DEFAULT_REGION)
    async with autocommit_pool.connection() as conn:
        for _ in range(2):
            try:
                lead, _token = _prepare(form, region)
            except InvalidPhone:
                region = _other_region(form, region, await db.niche_region_async(conn, form.niche))
                regions[form.niche] = region
                continue
            row = _accepted(await db.insert_intake_lead_unless_confirmation(conn, lead, hit=hit))
            if row.region_matches:
                break
            region = regions[form.niche] = row.default_region
        else:
            raise Conflict("the niche's region changed while the lead was read; try again")
    if row.id is not None and row.status is not None:
        return _submitted(row)
    return await asyncio.to_thread(_submit_in_transaction, pool, form, hit, regions)


def _prepare(form: LeadForm, region: str) -> tuple[db.IntakeLead, str]:
    """The validated lead to store, its phone read in ``region``, and the confirmation token
    that its stored hash is of."""
    token = secrets.token_urlsafe(24)
    lead = db.IntakeLead(
        niche_slug=form.niche,
        name=form.name,
        email=form.email,
        phone=form.phone,
        postal_code=form.postal_code,
        attributes=form.attributes,
        confirmation_token_hash=hash_token(token),
        phone_e164=normalize_phone(form.phone, region),
        email_normalized=normalize_email(form.email),
        region=None if reads_without_region(form.phone) else region,
        consent=None if form.consent is None else consent_document(form.consent),
    )
    return lead, token


def _other_region(form: LeadForm, tried: str, actual: str | None) -> str:
    """After the phone failed in ``tried``: the niche's own region, if it is another one."""
    if actual is None:
        raise InvalidInput("niche must be the slug of an active niche")
    if reads_without_region(form.phone) or actual == tried:
        normalize_phone(form.phone, tried)  # raises the phone's error again
    return actual


def _hit(client_address: str, rate: Rate | None) -> limits.Hit | None:
    if rate is None:
        return None
    return limits.Hit(
        key=f"intake:{client_address}", limit=rate.limit, window_seconds=rate.window_seconds
    )


def _store(
    conn: Connection, form: LeadForm, hit: limits.Hit | None, regions: Regions
) -> tuple[db.IntakeRow, db.IntakeLead, str]:
    """The lead stored in the caller's transaction, read in the niche's region."""
    region = regions.get(form.niche, DEFAULT_REGION)
    for _ in range(2):
        try:
            lead, token = _prepare(form, region)
        except InvalidPhone:
            region = regions[form.niche] = _other_region(
                form, region, db.niche_region(conn, form.niche)
            )
            continue
        row = _accepted(db.insert_intake_lead(conn, lead, hit=hit))
        if row.region_matches:
            # Told it may confirm, the statement stores every lead it does not refuse.
            assert row.id is not None and row.status is not None
            return row, lead, token
        region = regions[form.niche] = row.default_region
    raise Conflict("the niche's region changed while the lead was read; try again")


def _submit_in_transaction(
    pool: ConnectionPool[Connection], form: LeadForm, hit: limits.Hit | None, regions: Regions
) -> IntakeResult:
    with transaction(pool) as conn:
        row, lead, token = _store(conn, form, hit, regions)
        _confirm_by_mail(conn, row, lead, token)
    return _submitted(row)


def _submit_keyed(
    pool: ConnectionPool[Connection],
    form: LeadForm,
    hit: limits.Hit | None,
    regions: Regions,
    *,
    key: str,
    body_sha256: str,
) -> IntakeResult:
    # Two tries: a key pruned between our claim's wait and our read is simply free again.
    for _ in range(2):
        with transaction(pool) as conn:
            claimed = keys.claim(conn, key, body_sha256)
            if claimed:
                row, lead, token = _store(conn, form, hit, regions)
                _confirm_by_mail(conn, row, lead, token)
                assert row.id is not None
                keys.record_answer(
                    conn, key, lead_id=row.id, status_code=201, response=_answer(row).document()
                )
            else:
                stored = keys.stored_answer(conn, key)
        if claimed:
            return _submitted(row)
        if stored is not None:
            return _replayed(stored, body_sha256)
    raise Conflict("this Idempotency-Key is being used by another request; try again")


def _replayed(stored: keys.StoredAnswer, body_sha256: str) -> IntakeResult:
    if stored.body_sha256 != body_sha256 or stored.response is None:
        raise IdempotencyConflict(
            "this Idempotency-Key was used in the last 24 h with another body"
        )
    answer = stored.response
    duplicate_of = answer.get("duplicate_of")
    return IntakeResult(
        id=UUID(answer["id"]),
        status=str(answer["status"]),
        duplicate_of=None if duplicate_of is None else UUID(duplicate_of),
        replayed=True,
    )


def _form_document(form: LeadForm) -> dict[str, Any]:
    consent = None if form.consent is None else consent_document(form.consent)
    return {
        "niche": form.niche,
        "name": form.name,
        "email": form.email,
        "phone": form.phone,
        "postal_code": form.postal_code,
        "attributes": form.attributes,
        "consent": consent,
    }


def _confirm_by_mail(conn: Connection, row: db.IntakeRow, lead: db.IntakeLead, token: str) -> None:
    # A duplicate is never distributed, so its consumer is not asked to confirm it.
    if row.status == LeadStatus.PENDING_CONFIRMATION:
        assert row.id is not None
        _mail_confirmation(conn, row.id, row.niche_name, lead, token)


def _accepted(row: db.IntakeRow | None) -> db.IntakeRow:
    if row is None:
        raise InvalidInput("niche must be the slug of an active niche")
    if row.consent_missing:
        raise InvalidInput("consent is required by this niche")
    if row.rate_limited:
        raise RateLimited("too many leads from this address; try again later")
    return row


def _answer(row: db.IntakeRow) -> IntakeResult:
    assert row.id is not None and row.status is not None
    return IntakeResult(id=row.id, status=row.status, duplicate_of=row.duplicate_of)


def _submitted(row: db.IntakeRow) -> IntakeResult:
    """After the commit: the per-lead log line (ids and status, never the consumer's data)."""
    result = _answer(row)
    log.info("lead_submitted", lead_id=str(result.id), status=result.status)
    return result


def prune(tx: Connection) -> int:
    """Forget the ``Idempotency-Key``s older than 24 h (the maintenance task); how many."""
    return keys.prune(tx)


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
