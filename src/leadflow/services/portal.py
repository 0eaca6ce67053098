"""The provider portal: a provider reads its own profile, leads and ledger, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from leadflow.db import catalog
from leadflow.db import catalog_admin as catalog_db
from leadflow.db import portal as db
from leadflow.db.connection import Connection
from leadflow.db.ledger import LedgerEntryRecord
from leadflow.domain.errors import NotFound, found
from leadflow.services.pages import Cursor, KeysetPage, Page, PageRequest, Stamped, keyset_page


@dataclass(frozen=True, slots=True)
class Profile:
    provider: catalog.ProviderRecord
    subscriptions: list[db.OwnSubscription]


def profile(tx: Connection, *, provider_id: UUID) -> Profile:
    provider = found(catalog.get_provider(tx, provider_id), "provider", provider_id)
    return Profile(provider=provider, subscriptions=db.own_subscriptions(tx, provider_id))


def assignments(tx: Connection, *, provider_id: UUID, page: PageRequest) -> Page[db.PurchasedLead]:
    total, items = db.purchased_leads(
        tx, provider_id, assignment_id=None, limit=page.limit, offset=page.offset
    )
    return Page.of(page, total, items)


def assignments_from(
    tx: Connection, *, provider_id: UUID, cursor: Cursor[Stamped] | None, limit: int
) -> KeysetPage[db.PurchasedLead, Stamped]:
    """The provider's leads by keyset (newest first, ``assigned_at DESC, id``): the page next
    to ``cursor``, or the first."""
    return keyset_page(
        cursor,
        limit,
        lambda after, newer, n: db.purchased_leads_from(
            tx, provider_id, after=after, newer=newer, limit=n
        ),
        key=lambda lead: (lead.assigned_at, lead.assignment_id),
        total=db.count_purchased_leads(tx, provider_id),
    )


def assignment(tx: Connection, *, provider_id: UUID, assignment_id: UUID) -> db.PurchasedLead:
    """One of the provider's own assignments; another provider's is ``NotFound`` (never 403)."""
    _, items = db.purchased_leads(tx, provider_id, assignment_id=assignment_id, limit=1, offset=0)
    if not items:
        raise NotFound("assignment", assignment_id)
    return items[0]


def ledger(tx: Connection, *, provider_id: UUID, page: PageRequest) -> Page[LedgerEntryRecord]:
    total, items = catalog_db.list_ledger(tx, provider_id, limit=page.limit, offset=page.offset)
    return Page.of(page, total, items)


def ledger_from(
    tx: Connection, *, provider_id: UUID, cursor: Cursor[int] | None, limit: int
) -> KeysetPage[LedgerEntryRecord, int]:
    """The provider's own ledger by keyset (newest first, ``seq DESC``): the page next to
    ``cursor``, or the first."""
    return keyset_page(
        cursor,
        limit,
        lambda after, newer, n: catalog_db.ledger_from(
            tx, provider_id, after=after, newer=newer, limit=n
        ),
        key=lambda entry: entry.seq,
        total=catalog_db.count_ledger(tx, provider_id),
    )
