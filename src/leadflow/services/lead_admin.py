"""Admin reads of leads: the list, one lead with every field, its assignments; and the audit log."""

from __future__ import annotations

from uuid import UUID

from leadflow.db import audit_views
from leadflow.db import lead_views as db
from leadflow.db.connection import Connection
from leadflow.domain.errors import InvalidInput, NotFound, found
from leadflow.domain.model import LeadStatus
from leadflow.services.pages import Cursor, KeysetPage, Page, PageRequest, Stamped, keyset_page


def list_leads(
    tx: Connection,
    *,
    status: str | None,
    niche_id: UUID | None,
    page: PageRequest,
) -> Page[db.LeadView]:
    if status is not None and status not in set(LeadStatus):
        raise InvalidInput(f"status must be one of {', '.join(LeadStatus)}")
    total, items = db.list_lead_views(
        tx, status=status, niche_id=niche_id, limit=page.limit, offset=page.offset
    )
    return Page.of(page, total, items)


def leads_from(
    tx: Connection,
    *,
    status: str | None,
    niche_id: UUID | None,
    cursor: Cursor[Stamped] | None,
    limit: int,
) -> KeysetPage[db.LeadView, Stamped]:
    """The leads list by keyset (newest first): the page next to ``cursor``, or the first."""
    if status is not None and status not in set(LeadStatus):
        raise InvalidInput(f"status must be one of {', '.join(LeadStatus)}")
    return keyset_page(
        cursor,
        limit,
        lambda after, newer, n: db.lead_views_from(
            tx,
            status=status,
            niche_id=niche_id,
            after=after,
            newer=newer,
            limit=n,
        ),
        key=lambda lead: (lead.created_at, lead.id),
        total=db.count_lead_views(tx, status=status, niche_id=niche_id),
    )


def get_lead(tx: Connection, *, lead_id: UUID) -> db.LeadView:
    lead = found(db.get_lead_view(tx, lead_id), "lead", lead_id)
    return lead


def list_assignments(
    tx: Connection, *, lead_id: UUID, page: PageRequest
) -> Page[db.AssignmentView]:
    if not db.lead_exists(tx, lead_id):
        raise NotFound("lead", lead_id)
    total, items = db.list_lead_assignments(tx, lead_id, limit=page.limit, offset=page.offset)
    return Page.of(page, total, items)


def list_audit(
    tx: Connection,
    *,
    entity_type: str | None,
    entity_id: str | None,
    action: str | None,
    page: PageRequest,
) -> Page[audit_views.AuditRow]:
    total, items = audit_views.list_entries(
        tx,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        limit=page.limit,
        offset=page.offset,
    )
    return Page.of(page, total, items)


def audit_from(
    tx: Connection,
    *,
    entity_type: str | None,
    entity_id: str | None,
    action: str | None,
    cursor: Cursor[Stamped] | None,
    limit: int,
) -> KeysetPage[audit_views.AuditRow, Stamped]:
    """The audit log by keyset (newest first): the page next to ``cursor``, or the first."""
    filters = {"entity_type": entity_type, "entity_id": entity_id, "action": action}
    return keyset_page(
        cursor,
        limit,
        lambda after, newer, n: audit_views.entries_from(
            tx, **filters, after=after, newer=newer, limit=n
        ),
        key=lambda row: (row.at, row.id),
        total=audit_views.count_entries(tx, **filters),
    )
