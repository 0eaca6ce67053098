"""Returns (SPEC §9): a provider asks for its money back on a bad lead; an admin (or the niche's
auto-approval) decides. An approval is one transaction: the assignment is ``returned``, a
``refund`` of its price is posted, subscriptions paused for a low balance that the new balance
covers resume (as after a deposit), with audit rows and a ``return.decided`` event (the mail).

Locks follow the global order: the lead (only when its niche resells returned leads), the
provider row, then the return and its assignment; deciding twice (also at the same instant)
therefore gives one decision, and the other finds it decided.

Resale (a niche's ``resell_returned``): the approval also puts the lead back to ``approved``
and queues its distribution in the same transaction. "Once more" is kept by the lead's
``resold_at`` (set once: a lead is put back at most once), by the engine, which never sells a
resale to a provider that bought the lead (and ``UNIQUE (lead_id, provider_id)``), and by the
unique index of at most one selling run per lead and trigger (``distribution``, ``resale``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from leadflow import metrics
from leadflow.db import audit, catalog, events, jobs, leads, ledger
from leadflow.db import returns as db
from leadflow.db.connection import Connection
from leadflow.db.errors import translated
from leadflow.domain.errors import AlreadyDecided, InvalidInput, InvalidState, NotFound, found
from leadflow.domain.facts import RETURN_DECIDED, Event, Posting
from leadflow.domain.model import Actor, AssignmentStatus, LedgerKind, ReturnStatus
from leadflow.domain.returns import AUTO_APPROVAL_PERIOD, auto_approvable, within_window
from leadflow.services import unsold
from leadflow.services.pages import Cursor, KeysetPage, Page, PageRequest, Stamped, keyset_page

MAX_TEXT = 1000


@dataclass(frozen=True, slots=True)
class Decision:
    """A decided return, and what the approval did to the money."""

    record: db.ReturnRecord
    refund_cents: int = 0
    balance_cents: int | None = None
    resumed_subscription_ids: tuple[UUID, ...] = ()
    resale_job_id: int | None = None


def request_return(
    tx: Connection,
    *,
    actor: Actor,
    provider_id: UUID,
    assignment_id: UUID,
    reason: str,
    note: str | None = None,
) -> db.ReturnRecord:
    """File a return of one of the provider's own active assignments, inside its niche's
    window, for one of its reasons; approved at once when the niche's auto-approval allows."""
    note = _optional_text(note, "note")
    target = found(
        db.returnable(tx, assignment_id=assignment_id, provider_id=provider_id),
        "assignment",
        assignment_id,
    )
    if reason not in target.return_reasons:
        raise InvalidInput(f"reason must be one of: {', '.join(target.return_reasons)}")
    if target.resell_returned and target.auto_approve_returns_under_rate is not None:
        # An approval here may put the lead back for resale: its lock comes first.
        leads.get_lead(tx, target.lead_id, lock=True)
    # The provider first (its balance may move now, by auto-approval), then the assignment:
    # two requests for one assignment are serialized, and the second sees the first.
    catalog.get_provider(tx, provider_id, lock=True)
    assignment = db.lock_assignment(tx, assignment_id)
    if assignment.status != AssignmentStatus.ACTIVE:
        raise InvalidState(f"assignment is {assignment.status}; only an active one is returned")
    if db.exists_for_assignment(tx, assignment_id):
        raise InvalidState("a return was already requested for this assignment")
    if not within_window(target.assigned_at, target.now, target.return_window_hours):
        if target.return_window_hours == 0:
            raise InvalidState("this niche does not take returns")
        raise InvalidState(
            f"the return window of {target.return_window_hours} hours after the sale has passed"
        )
    with translated():
        record = db.insert(
            tx,
            assignment_id=assignment_id,
            provider_id=provider_id,
            niche_id=target.niche_id,
            reason=reason,
            note=note,
        )
    audit.record(
        tx,
        actor,
        "return.requested",
        "lead_return",
        record.id,
        {"assignment_id": str(assignment_id), "reason": reason},
    )
    if target.auto_approve_returns_under_rate is not None:
        approved, sold = db.approved_rate_counts(
            tx, provider_id=provider_id, niche_id=target.niche_id, period=AUTO_APPROVAL_PERIOD
        )
        if auto_approvable(
            approved=approved, assignments=sold, rate=target.auto_approve_returns_under_rate
        ):
            resale_lead_id = target.lead_id if target.resell_returned else None
            return _approve(
                tx, Actor.system(), record, automatic=True, resale_lead_id=resale_lead_id
            ).record
    return record


def approve_return(tx: Connection, *, actor: Actor, return_id: UUID) -> Decision:
    """Approve an open return: refund, ``returned``, resumed subscriptions, audit, mail."""
    current = found(db.get(tx, return_id), "return", return_id)
    target = db.returnable(tx, assignment_id=current.assignment_id, provider_id=current.provider_id)
    assert target is not None, "a return's assignment is its provider's"
    if target.resell_returned:
        leads.get_lead(tx, target.lead_id, lock=True)
    catalog.get_provider(tx, current.provider_id, lock=True)
    record = _open(tx, return_id)
    resale_lead_id = target.lead_id if target.resell_returned else None
    return _approve(tx, actor, record, automatic=False, resale_lead_id=resale_lead_id)


def deny_return(tx: Connection, *, actor: Actor, return_id: UUID, reason: str) -> Decision:
    """Deny an open return, with the reason the provider is told."""
    reason = _required_text(reason, "reason")
    found(db.get(tx, return_id), "return", return_id)
    _open(tx, return_id)
    decided = db.decide(
        tx,
        return_id,
        status=ReturnStatus.DENIED,
        actor=actor,
        reason=reason,
        refund_ledger_entry_id=None,
    )
    assert decided is not None, "the open return is locked"
    audit.record(tx, actor, "return.denied", "lead_return", return_id, {"reason": reason})
    events.record(tx, [Event(RETURN_DECIDED, {"return_id": str(return_id)})])
    return Decision(decided)


def list_returns(
    tx: Connection,
    *,
    status: str | None,
    provider_id: UUID | None,
    niche_id: UUID | None,
    page: PageRequest,
) -> Page[db.ReturnView]:
    if status is not None and status not in set(ReturnStatus):
        raise InvalidInput("status must be requested, approved or denied")
    total, items = db.list_views(
        tx,
        status=status,
        provider_id=provider_id,
        niche_id=niche_id,
        limit=page.limit,
        offset=page.offset,
    )
    return Page.of(page, total, items)


def returns_from(
    tx: Connection,
    *,
    status: str | None,
    provider_id: UUID | None,
    cursor: Cursor[Stamped] | None,
    limit: int,
) -> KeysetPage[db.ReturnView, Stamped]:
    """The returns list by keyset (newest first), by status and provider: the page next to
    ``cursor``, or the first."""
    if status is not None and status not in set(ReturnStatus):
        raise InvalidInput("status must be requested, approved or denied")
    return keyset_page(
        cursor,
        limit,
        lambda after, newer, n: db.views_from(
            tx, status=status, provider_id=provider_id, after=after, newer=newer, limit=n
        ),
        key=lambda view: (view.created_at, view.id),
        total=db.count_views(tx, status=status, provider_id=provider_id),
    )


def get_return(
    tx: Connection, *, return_id: UUID, provider_id: UUID | None = None
) -> db.ReturnView:
    """One return; with ``provider_id``, only that provider's own (another's is not found)."""
    _, items = db.list_views(tx, return_id=return_id, provider_id=provider_id, limit=1, offset=0)
    if not items:
        raise NotFound("return", return_id)
    return items[0]


@dataclass(frozen=True, slots=True)
class ReturnOptions:
    """What a provider may do about one of its assignments: the return it asked for, or the
    reasons it may give and until when (None when the window is closed or shut)."""

    request: db.ReturnView | None
    reasons: list[str]
    open_until: datetime | None


def return_options(tx: Connection, *, provider_id: UUID, assignment_id: UUID) -> ReturnOptions:
    """The provider's own assignment only (another's is not found)."""
    target = found(
        db.returnable(tx, assignment_id=assignment_id, provider_id=provider_id),
        "assignment",
        assignment_id,
    )
    _, requests = db.list_views(
        tx, assignment_id=assignment_id, provider_id=provider_id, limit=1, offset=0
    )
    open_until = None
    if (
        not requests
        and target.status == AssignmentStatus.ACTIVE
        and within_window(target.assigned_at, target.now, target.return_window_hours)
    ):
        open_until = target.assigned_at + timedelta(hours=target.return_window_hours)
    return ReturnOptions(
        request=requests[0] if requests else None,
        reasons=list(target.return_reasons),
        open_until=open_until,
    )


def refresh_metrics(tx: Connection) -> None:
    """Set ``returns_total`` and ``refunds_cents_total`` from the database (before /metrics)."""
    totals = db.totals(tx)
    metrics.money_back.set(
        metrics.MoneyBack(
            requested=totals.requested,
            approved=totals.approved,
            denied=totals.denied,
            refunded_cents=totals.refunded_cents,
        )
    )


def _open(tx: Connection, return_id: UUID) -> db.ReturnRecord:
    """The return, locked, if it is still open; a decided one is a conflict."""
    record = db.get(tx, return_id, lock=True)
    assert record is not None, "returns are never deleted"
    if record.status != ReturnStatus.REQUESTED:
        raise AlreadyDecided(f"return {return_id} was already {record.status}")
    return record


def _approve(
    tx: Connection,
    actor: Actor,
    record: db.ReturnRecord,
    *,
    automatic: bool,
    resale_lead_id: UUID | None,
) -> Decision:
    """The one approval path (an admin's or the auto-approval); the caller holds the provider
    lock and the open return's (and, when the niche resells, the lock of ``resale_lead_id``,
    taken before them)."""
    assignment = db.lock_assignment(tx, record.assignment_id)
    if not db.mark_returned(tx, record.assignment_id):
        raise InvalidState(f"assignment is {assignment.status}; only an active one is returned")
    [refund] = ledger.post(
        tx,
        [
            Posting(
                record.provider_id,
                assignment.price_charged_cents,
                LedgerKind.REFUND,
                assignment_id=record.assignment_id,
                note=f"return {record.id}",
                actor_id=actor.id,
            )
        ],
    )
    resumed = unsold.resume_covered(tx, record.provider_id, reason=str(LedgerKind.REFUND))
    decided = db.decide(
        tx,
        record.id,
        status=ReturnStatus.APPROVED,
        actor=actor,
        reason="auto-approved: the provider's return rate is under the niche's limit"
        if automatic
        else None,
        refund_ledger_entry_id=refund.id,
    )
    assert decided is not None, "the open return is locked"
    resale_job_id = (
        None if resale_lead_id is None else _put_back_for_resale(tx, actor, record, resale_lead_id)
    )
    audit.record(
        tx,
        actor,
        "return.approved",
        "lead_return",
        record.id,
        {
            "assignment_id": str(record.assignment_id),
            "refund_ledger_entry_id": str(refund.id),
            "refund_cents": refund.amount_cents,
            "balance_cents": refund.balance_after_cents,
            "resumed_subscription_ids": [str(s) for s in resumed],
            "automatic": automatic,
            "resale_job_id": resale_job_id,
        },
    )
    events.record(
        tx,
        [
            Event(
                RETURN_DECIDED,
                {"return_id": str(record.id), "balance_cents": refund.balance_after_cents},
            )
        ],
    )
    return Decision(
        decided,
        refund_cents=refund.amount_cents,
        balance_cents=refund.balance_after_cents,
        resumed_subscription_ids=tuple(resumed),
        resale_job_id=resale_job_id,
    )


def _put_back_for_resale(
    tx: Connection, actor: Actor, record: db.ReturnRecord, lead_id: UUID
) -> int | None:
    """The returned lead back to ``approved`` with its distribution queued, if it was never
    put back before; the job id, or None."""
    niche_id = db.put_back_for_resale(tx, lead_id)
    if niche_id is None:
        return None
    job_id = jobs.defer_distribution(
        tx, lead_id=lead_id, niche_id=niche_id, actor=Actor.system(), requested_at=datetime.now(UTC)
    )
    audit.record(
        tx,
        actor,
        "lead.resale_queued",
        "lead",
        lead_id,
        {"return_id": str(record.id), "distribution_job_id": job_id},
    )
    return job_id


def _required_text(value: str, what: str) -> str:
    value = value.strip()
    if not 0 < len(value) <= MAX_TEXT or "\x00" in value:
        raise InvalidInput(f"{what} must be 1..{MAX_TEXT} characters")
    return value


def _optional_text(value: str | None, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    return _required_text(value, what)
