"""Returns with a real worker and SMTP server, and a kill -9 in the middle of an approval."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from leadflow.db.connection import transaction
from leadflow.domain.model import Actor, ActorRole
from leadflow.services import leads, returns
from leadflow.settings import Settings
from tests.e2e.worker.conftest import SmtpServer, WorkerProcess, wait_until
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support import queries
from tests.support.work import committed

LEADFLOW = str(Path(sys.executable).parent / "leadflow")


def sold_assignment(pool: Any, lead_id: UUID) -> dict[str, Any]:
    with transaction(pool) as conn:
        row = conn.execute(
            "SELECT id, provider_id, price_charged_cents FROM lead_assignments WHERE lead_id = %s",
            (lead_id,),
        ).fetchone()
    return row or {}


def requested(pool: Any, assignment: dict[str, Any]) -> UUID:
    record = committed(
        pool,
        returns.request_return,
        actor=Actor(ActorRole.PROVIDER, str(assignment["provider_id"])),
        provider_id=assignment["provider_id"],
        assignment_id=assignment["id"],
        reason="bad_contact",
    )
    return record.id


def test_approved_return_mails_the_provider_and_resumes_its_subscription(
    pool: Any, settings: Settings, smtp: SmtpServer, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool, providers=1, price_cents=1000, balance_cents=1000)
    workers(smtp_url=smtp.url)
    lead_id = factories.lead(pool, market.niche_id)
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
    assignment = wait_until("the sale", lambda: sold_assignment(pool, lead_id))
    provider_id = assignment["provider_id"]
    wait_until(
        "the low-balance pause",
        lambda: (
            queries.one(
                pool, "SELECT status FROM subscriptions WHERE provider_id = %s", provider_id
            )["status"]
            == "paused_low_balance"
        ),
    )

    return_id = requested(pool, assignment)
    decision = committed(pool, returns.approve_return, actor=ADMIN, return_id=return_id)

    assert decision.balance_cents == 1000 == queries.balance(pool, provider_id)
    subscription = queries.one(
        pool, "SELECT status FROM subscriptions WHERE provider_id = %s", provider_id
    )
    assert subscription["status"] == "active"
    mail = wait_until(
        "the return mail",
        lambda: [m for m in smtp.inbox.messages if "Return approved" in str(m["Subject"])],
    )
    assert len(mail) == 1
    body = mail[0].get_payload(decode=True).decode()
    assert "$10.00 was refunded" in body


def stall_decision(pool: Any, seconds: float) -> None:
    """Every decision on a return sleeps inside its transaction, after the refund was posted."""
    with transaction(pool) as conn:
        conn.execute(
            f"""
            CREATE FUNCTION stall_decision() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep({float(seconds)}); RETURN NEW; END $$
            """
        )
        conn.execute(
            "CREATE TRIGGER stall_decision BEFORE UPDATE ON lead_returns "
            "FOR EACH ROW EXECUTE FUNCTION stall_decision()"
        )


def sleeping(pool: Any) -> bool:
    with transaction(pool) as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event = 'PgSleep'"
        ).fetchone()
    return bool(row and row["n"])


def state(pool: Any, return_id: UUID, assignment: dict[str, Any]) -> tuple[Any, ...]:
    with transaction(pool) as conn:
        row = conn.execute(
            """
            SELECT r.status, a.status AS assignment,
                   (SELECT count(*) FROM ledger_entries WHERE assignment_id = a.id
                    AND kind = 'refund') AS refunds,
                   (SELECT count(*) FROM audit_log WHERE action = 'return.approved') AS audits,
                   (SELECT count(*) FROM outbox_events WHERE topic = 'return.decided') AS events
            FROM lead_returns r JOIN lead_assignments a ON a.id = r.assignment_id
            WHERE r.id = %s
            """,
            (return_id,),
        ).fetchone()
    assert row is not None
    balance = queries.balance(pool, assignment["provider_id"])
    return (row["status"], row["assignment"], row["refunds"], row["audits"], row["events"], balance)


def test_kill_9_during_an_approval_leaves_nothing_of_it(
    pool: Any, settings: Settings, db_url: str, workers: Callable[..., WorkerProcess]
) -> None:
    market = factories.market(pool, providers=1, price_cents=1000, balance_cents=5000)
    worker = workers()
    lead_id = factories.lead(pool, market.niche_id)
    committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
    assignment = wait_until("the sale", lambda: sold_assignment(pool, lead_id))
    worker.terminate()
    return_id = requested(pool, assignment)
    before = state(pool, return_id, assignment)
    assert before == ("requested", "active", 0, 0, 0, 4000)
    stall_decision(pool, seconds=30)

    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    cli = subprocess.Popen(
        [LEADFLOW, "returns", "approve", str(return_id)],
        env={**env, "DATABASE_URL": db_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until("the approval to be inside its transaction", lambda: sleeping(pool))
    cli.kill()  # SIGKILL: no rollback from the client, the server must notice
    cli.wait()
    # The server notices the dead client (client_connection_check_interval) and rolls back.
    wait_until("the dead approval's session to end", lambda: not sleeping(pool), timeout=45)
    assert state(pool, return_id, assignment) == before

    with transaction(pool) as conn:
        conn.execute("DROP TRIGGER stall_decision ON lead_returns")
    decision = committed(pool, returns.approve_return, actor=ADMIN, return_id=return_id)
    assert decision.refund_cents == 1000
    assert state(pool, return_id, assignment) == ("approved", "returned", 1, 1, 1, 5000)
