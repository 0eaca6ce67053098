"""Deliver the email outbox over SMTP (aiosmtplib). A mail is ``sent`` only once accepted.

Logs name the mail id and template, never addresses or contents.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit
from uuid import UUID

import aiosmtplib
import structlog
from psycopg_pool import ConnectionPool

from leadflow import metrics
from leadflow.db import mail
from leadflow.db.connection import Connection, autocommitted, transaction
from leadflow.services import dispatch
from leadflow.settings import Settings
from leadflow.worker.retry import mail_retry_delay

log = structlog.get_logger(__name__)

BATCH = 50
# A claimed mail is not claimed again for this long; longer than any one send takes.
LEASE_SECONDS = 300
# Without SMTP, pending mails are looked at again after this long (and logged once each time).
HOLD_SECONDS = 3600
NOT_CONFIGURED = "smtp not configured"
SMTP_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    hostname: str
    port: int
    use_tls: bool
    username: str | None
    password: str | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    held: int = 0


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://[user:password@]host[:port]`` (STARTTLS when offered) or ``smtps://`` (TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("LEADFLOW_SMTP_URL must look like smtp://host:port or smtps://host:port")
    use_tls = parts.scheme == "smtps"
    return SmtpTarget(
        hostname=parts.hostname,
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def build_message(settings: Settings, item: mail.MailToSend) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = item.to_address
    message["Subject"] = item.subject
    message["Message-ID"] = item.message_id
    message["Date"] = formatdate(usegmt=True)
    message.set_content(item.body_text)
    return message


def is_permanent(exc: BaseException) -> bool:
    """A 5xx refusal will not change by waiting; anything else (down, busy, 4xx) may."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return False
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


async def deliver_due(settings: Settings, pool: ConnectionPool[Connection]) -> DeliveryReport:
    """Make the mails of due outbox events, then send every mail that is due now; each mail is
    tried at most once per call."""
    if not settings.smtp_url:
        return await asyncio.to_thread(hold_due, settings, pool)
    await asyncio.to_thread(dispatch.dispatch_due, pool, retry_delays=settings.retry_delays)
    target = parse_smtp_url(settings.smtp_url)
    tried: list[UUID] = []
    sent = failed = 0
    while True:
        batch = await asyncio.to_thread(_claim, pool, tried)
        if not batch:
            return DeliveryReport(sent=sent, failed=failed)
        tried.extend(item.id for item in batch)
        batch_sent, batch_failed = await _send_batch(settings, pool, target, batch)
        sent += batch_sent
        failed += batch_failed


async def _send_batch(
    settings: Settings,
    pool: ConnectionPool[Connection],
    target: SmtpTarget,
    batch: list[mail.MailToSend],
) -> tuple[int, int]:
    sent = 0
    remaining = list(batch)
    try:
        async with aiosmtplib.SMTP(
            hostname=target.hostname,
            port=target.port,
            use_tls=target.use_tls,
            username=target.username,
            password=target.password,
            timeout=SMTP_TIMEOUT,
        ) as smtp:
            while remaining:
                item = remaining[0]
                try:
                    await smtp.send_message(build_message(settings, item))
                except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
                    # The server refused this mail but the session goes on.
                    remaining.pop(0)
                    await _failed(settings, pool, item, exc)
                    continue
                remaining.pop(0)
                await asyncio.to_thread(_mark_sent, pool, item.id)
                metrics.mails_sent_total.labels(template=item.template).inc()
                log.info("mail_sent", mail_id=str(item.id), template=item.template)
                sent += 1
    except (OSError, TimeoutError, aiosmtplib.SMTPException) as exc:
        # The server is unreachable or dropped us: every mail not yet accepted waits.
        for item in remaining:
            await _failed(settings, pool, item, exc)
    return sent, len(batch) - sent


async def _failed(
    settings: Settings, pool: ConnectionPool[Connection], item: mail.MailToSend, exc: BaseException
) -> None:
    permanent = is_permanent(exc)
    retry_in = mail_retry_delay(settings.retry_delays, item.attempts, permanent=permanent)
    error = f"{type(exc).__name__}: {exc}"
    await asyncio.to_thread(_mark_failed, pool, item.id, error, retry_in)
    metrics.mails_failed_total.labels(template=item.template).inc()
    log.warning(
        "mail_not_delivered",
        mail_id=str(item.id),
        template=item.template,
        attempt=item.attempts,
        error=type(exc).__name__,
        retry_in=retry_in,
    )


def _claim(pool: ConnectionPool[Connection], tried: list[UUID]) -> list[mail.MailToSend]:
    with transaction(pool) as conn:
        return mail.claim_due(conn, limit=BATCH, lease_seconds=LEASE_SECONDS, exclude=tried)


def _mark_sent(pool: ConnectionPool[Connection], mail_id: UUID) -> None:
    with transaction(pool) as conn:
        mail.mark_sent(conn, mail_id)


def _mark_failed(
    pool: ConnectionPool[Connection], mail_id: UUID, error: str, retry_in: int | None
) -> None:
    with transaction(pool) as conn:
        mail.mark_attempt_failed(conn, mail_id, error=error, retry_in=retry_in)


def hold_due(settings: Settings, pool: ConnectionPool[Connection]) -> DeliveryReport:
    """Without SMTP: make the mails of due events, log each due mail once and look at it again
    after ``HOLD_SECONDS``."""
    dispatch.dispatch_due(pool, retry_delays=settings.retry_delays)
    held = _hold(pool)
    for mail_id, template in held:
        log.info(
            "mail_kept_in_outbox", mail_id=str(mail_id), template=template, reason=NOT_CONFIGURED
        )
    return DeliveryReport(held=len(held))


def _hold(pool: ConnectionPool[Connection]) -> list[tuple[UUID, str]]:
    with autocommitted(pool) as conn:
        return mail.hold_due(conn, seconds=HOLD_SECONDS, reason=NOT_CONFIGURED)


def release_held(pool: ConnectionPool[Connection]) -> int:
    """Mails kept while SMTP was not configured become due (call when a worker with SMTP starts)."""
    with transaction(pool) as conn:
        return mail.release_held(conn, reason=NOT_CONFIGURED)
