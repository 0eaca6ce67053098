"""Outbox delivery against a real SMTP server (aiosmtpd), called in-process."""

from __future__ import annotations

import asyncio
from typing import Any

from leadflow.db import outbox
from leadflow.db.connection import transaction
from leadflow.settings import Settings
from leadflow.worker import mailer
from tests.e2e.worker.conftest import Inbox, SmtpServer, free_port


class RefusingInbox(Inbox):
    """Accepts everything except recipients whose address starts with ``bounce``."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("bounce"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def queue_mails(pool: Any, *addresses: str) -> list[Any]:
    with transaction(pool) as conn:
        return outbox.enqueue(
            conn,
            [
                outbox.OutgoingMail(
                    template="lead_assigned", to_address=a, subject="Hi", body_text="Body"
                )
                for a in addresses
            ],
        )


def rows(pool: Any) -> dict[Any, dict[str, Any]]:
    with transaction(pool) as conn:
        found = conn.execute(
            "SELECT id, status, attempts, last_error, sent_at FROM email_outbox"
        ).fetchall()
    return {row["id"]: row for row in found}


def make_due(pool: Any) -> None:
    with transaction(pool) as conn:
        conn.execute("UPDATE email_outbox SET next_attempt_at = now() WHERE status = 'pending'")


def test_refused_recipient_fails_after_its_schedule_others_are_sent(
    pool: Any, settings: Settings
) -> None:
    server = SmtpServer(port=free_port(), inbox=RefusingInbox())
    server.start()
    configured = settings.model_copy(update={"smtp_url": server.url, "retry_delays": [0, 0]})
    good, bad = queue_mails(pool, "ok@example.com", "bounce@example.com")
    try:
        reports = []
        for _ in range(3):
            reports.append(asyncio.run(mailer.deliver_due(configured, pool)))
            make_due(pool)
    finally:
        server.stop()

    assert [(r.sent, r.failed) for r in reports] == [(1, 1), (0, 1), (0, 1)]
    state = rows(pool)
    assert (state[good]["status"], state[good]["attempts"]) == ("sent", 1)
    assert (state[bad]["status"], state[bad]["attempts"]) == ("failed", 3)
    assert "550" in state[bad]["last_error"]
    assert [m["Message-ID"] for m in server.inbox.messages] == [outbox.message_id_for(good)]


def test_concurrent_deliveries_send_each_mail_once(pool: Any, settings: Settings) -> None:
    server = SmtpServer(port=free_port())
    server.start()
    configured = settings.model_copy(update={"smtp_url": server.url})
    ids = queue_mails(pool, *(f"p{i}@example.com" for i in range(60)))

    async def both() -> list[mailer.DeliveryReport]:
        return list(
            await asyncio.gather(
                mailer.deliver_due(configured, pool), mailer.deliver_due(configured, pool)
            )
        )

    try:
        reports = asyncio.run(both())
    finally:
        server.stop()

    assert sum(r.sent for r in reports) == 60
    received = [m["Message-ID"] for m in server.inbox.messages]
    assert sorted(received) == sorted(outbox.message_id_for(i) for i in ids)
    assert {row["status"] for row in rows(pool).values()} == {"sent"}


def test_server_down_keeps_mails_pending_for_a_later_attempt(pool: Any, settings: Settings) -> None:
    configured = settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{free_port()}", "retry_delays": [30]}
    )
    [mail_id] = queue_mails(pool, "a@example.com")

    report = asyncio.run(mailer.deliver_due(configured, pool))

    assert (report.sent, report.failed) == (0, 1)
    row = rows(pool)[mail_id]
    assert (row["status"], row["attempts"]) == ("pending", 1)
    # Not due again before its retry time.
    assert asyncio.run(mailer.deliver_due(configured, pool)).failed == 0


def test_without_smtp_mails_are_held_and_released_when_smtp_is_configured(
    pool: Any, settings: Settings
) -> None:
    [mail_id] = queue_mails(pool, "a@example.com")

    report = asyncio.run(mailer.deliver_due(settings, pool))

    assert report.held == 1
    row = rows(pool)[mail_id]
    assert (row["status"], row["attempts"], row["last_error"]) == (
        "pending",
        0,
        mailer.NOT_CONFIGURED,
    )
    assert mailer.release_held(pool) == 1
    server = SmtpServer(port=free_port())
    server.start()
    try:
        configured = settings.model_copy(update={"smtp_url": server.url})
        assert asyncio.run(mailer.deliver_due(configured, pool)).sent == 1
    finally:
        server.stop()
    assert rows(pool)[mail_id]["status"] == "sent"
