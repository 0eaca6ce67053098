"""Admin reads of leads: the list, one lead with every field, its assignments; and the audit log."""

from __future__ import annotations

from uuid import UUID

from leadflow.db import audit_views
from leadflow.db import lead_views as db
from leadflow.db.connection import Connection
from leadflow.domain.errors import InvalidInput, NotFound, found
from leadflow.domain.model import LeadStatus
from leadflow.services.pages import Cursor, KeysetPage, Page, PageRequest


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
    cursor: Cursor | None,
    limit: int,
) -> KeysetPage[db.LeadView]:
    """The leads list by keyset (newest first): the page next to ``cursor``, or the first."""
    if status is not None and status not in set(LeadStatus):
        raise InvalidInput(f"status must be one of {', '.join(LeadStatus)}")
    PageRequest(limit=limit)  # the same bounds as every list
    rows = db.lead_views_from(
        tx,
        status=status,
        niche_id=niche_id,
        at=None if cursor is None else cursor.created_at,
        after_id=None if cursor is None else cursor.id,
        newer=cursor is not None and cursor.newer,
        limit=limit + 1,  # one more tells whether there is a page beyond
    )
    beyond = len(rows) > limit
    if cursor is not None and cursor.newer:
        items = rows[-limit:] if beyond else rows
        more_newer, more_older = beyond, bool(items)
    else:
        items = rows[:limit]
        more_newer, more_older = cursor is not None and bool(items), beyond
    return KeysetPage(
        items=items,
        total=db.count_lead_views(tx, status=status, niche_id=niche_id),
        limit=limit,
        newer=Cursor(items[0].created_at, items[0].id, newer=True) if more_newer else None,
        older=Cursor(items[-1].created_at, items[-1].id) if more_older else None,
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
