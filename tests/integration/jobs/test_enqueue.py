"""Approval and admin requests queue exactly one distribution job per lead, in their transaction."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest

from leadflow.db.connection import transaction
from leadflow.domain.errors import (
    InvalidInput,
    InvalidState,
    LeadAlreadyDistributed,
    LeadNotApproved,
    NotFound,
)
from leadflow.services import jobs, leads
from leadflow.settings import Settings
from tests.integration.jobs import factories
from tests.integration.jobs.factories import ADMIN
from tests.support.work import committed


def _jobs(pool: Any) -> list[dict[str, Any]]:
    with transaction(pool) as conn:
        return conn.execute(
            "SELECT id, queue_name, task_name, lock, args, status::text AS status "
            "FROM procrastinate_jobs ORDER BY id"
        ).fetchall()


def _set_status(pool: Any, lead_id: uuid.UUID, status: str) -> None:
    with transaction(pool) as conn:
        conn.execute("UPDATE leads SET status = %s WHERE id = %s", (status, lead_id))


def _audit(pool: Any, action: str) -> list[dict[str, Any]]:
    with transaction(pool) as conn:
        return conn.execute(
            "SELECT actor_id, actor_role, entity_id, metadata FROM audit_log WHERE action = %s",
            (action,),
        ).fetchall()


def test_approve_queues_the_distribution_in_the_niche_lock(pool: Any, settings: Settings) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id)

    result = committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)

    assert result.status == "approved"
    [job] = _jobs(pool)
    assert result.distribution_job_id == job["id"]
    assert (job["queue_name"], job["task_name"], job["status"]) == (
        "distribute_lead",
        "distribute_lead",
        "todo",
    )
    assert job["lock"] == f"niche:{market.niche_id}"
    assert job["args"]["lead_id"] == str(lead_id)
    assert job["args"]["actor_role"] == "system"
    assert "requested_at" in job["args"]
    [row] = _audit(pool, "lead.approved")
    assert row["actor_id"] == ADMIN.id
    assert row["entity_id"] == str(lead_id)
    assert row["metadata"] == {"distribution_job_id": job["id"]}


def test_approve_without_auto_distribution_queues_nothing(pool: Any, settings: Settings) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id)
    manual = settings.model_copy(update={"auto_distribute": False})

    result = committed(pool, leads.approve_lead, settings=manual, actor=ADMIN, lead_id=lead_id)

    assert result.distribution_job_id is None
    assert _jobs(pool) == []
    [row] = _audit(pool, "lead.approved")
    assert row["metadata"] == {"distribution_job_id": None}


def test_an_approval_that_rolls_back_leaves_no_job(pool: Any, settings: Settings) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id)
    # The approval's last write (its audit row) fails after the job was deferred.
    with transaction(pool) as conn:
        conn.execute(
            """
            CREATE FUNCTION fail_approval() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected failure'; END $$;
            CREATE TRIGGER fail_approval BEFORE INSERT ON audit_log FOR EACH ROW
            WHEN (NEW.action = 'lead.approved') EXECUTE FUNCTION fail_approval();
            """
        )

    with pytest.raises(psycopg.errors.RaiseException):
        committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)

    assert _jobs(pool) == []
    with transaction(pool) as conn:
        row = conn.execute("SELECT status FROM leads WHERE id = %s", (lead_id,)).fetchone()
    assert row == {"status": "pending_approval"}


@pytest.mark.parametrize("status", ["pending_confirmation", "approved", "rejected"])
def test_approve_refuses_a_lead_not_pending_approval(
    pool: Any, settings: Settings, status: str
) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id, status="pending_approval")
    _set_status(pool, lead_id, status)
    with pytest.raises(InvalidState):
        committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=lead_id)
    assert _jobs(pool) == []


def test_approve_and_reject_an_unknown_lead(pool: Any, settings: Settings) -> None:
    with pytest.raises(NotFound):
        committed(pool, leads.approve_lead, settings=settings, actor=ADMIN, lead_id=uuid.uuid4())
    with pytest.raises(NotFound):
        committed(pool, leads.reject_lead, actor=ADMIN, lead_id=uuid.uuid4(), reason="spam")


@pytest.mark.parametrize("status", ["pending_confirmation", "pending_approval", "approved"])
def test_reject_from_every_open_state(pool: Any, status: str) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id, status=status)

    rejected = committed(
        pool, leads.reject_lead, actor=ADMIN, lead_id=lead_id, reason="  duplicate  "
    )

    assert rejected.status == "rejected"
    assert rejected.rejection_reason == "duplicate"
    assert rejected.rejected_at is not None
    [row] = _audit(pool, "lead.rejected")
    assert row["metadata"] == {"previous_status": status, "reason": "duplicate"}
    with pytest.raises(InvalidState):
        committed(pool, leads.reject_lead, actor=ADMIN, lead_id=lead_id, reason="again")


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001, "nul\x00"])
def test_reject_needs_a_reason(pool: Any, reason: str) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id)
    with pytest.raises(InvalidInput):
        committed(pool, leads.reject_lead, actor=ADMIN, lead_id=lead_id, reason=reason)


def test_request_returns_the_job_already_queued(pool: Any) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id, status="approved")

    first = committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id)
    second = committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id)

    assert first.created and not second.created
    assert first.job_id == second.job_id
    assert [j["id"] for j in _jobs(pool)] == [first.job_id]
    [row] = _audit(pool, "distribution.requested")
    assert row["metadata"] == {"job_id": first.job_id}
    assert _jobs(pool)[0]["args"]["actor_role"] == "admin"


def test_request_returns_the_running_job_and_makes_a_new_one_once_it_ended(pool: Any) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id, status="approved")
    first = committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id)
    with transaction(pool) as conn:
        conn.execute(
            "UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", (first.job_id,)
        )
    assert (
        committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id).job_id
        == first.job_id
    )

    # A no_eligible outcome or a dead letter ends the job; a new request makes a new one.
    for ended in ("succeeded", "failed"):
        with transaction(pool) as conn:
            conn.execute(
                "UPDATE procrastinate_jobs SET status = %s WHERE task_name = 'distribute_lead' "
                "AND status IN ('todo', 'doing')",
                (ended,),
            )
        again = committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id)
        assert again.created
    assert len(_jobs(pool)) == 3


def test_concurrent_requests_make_one_job(pool: Any) -> None:
    market = factories.market(pool)
    lead_id = factories.lead(pool, market.niche_id, status="approved")
    barrier = threading.Barrier(6)
    results: list[int] = []

    def request() -> None:
        barrier.wait()
        results.append(
            committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id).job_id
        )

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(results) == 6
    assert len(set(results)) == 1
    assert [j["id"] for j in _jobs(pool)] == results[:1]


def test_request_refuses_unknown_unapproved_and_distributed_leads(pool: Any) -> None:
    market = factories.market(pool)
    with pytest.raises(NotFound):
        committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=uuid.uuid4())
    for status in ("pending_confirmation", "pending_approval", "rejected"):
        lead_id = factories.lead(pool, market.niche_id, status=status)
        with pytest.raises(LeadNotApproved):
            committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id)
    lead_id = factories.lead(pool, market.niche_id, status="approved")
    # Only the status check is under test here (real distributions: tests/e2e/worker); the
    # status is put back so the invariants hold at the end.
    _set_status(pool, lead_id, "distributed")
    with pytest.raises(LeadAlreadyDistributed):
        committed(pool, jobs.request_distribution, actor=ADMIN, lead_id=lead_id)
    _set_status(pool, lead_id, "approved")
    assert _jobs(pool) == []
