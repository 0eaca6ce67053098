"""SQL of the distribution engine's reads: the lead, niche and provider locks and the candidate
snapshot (statements in ``sql/distribution.sql``). The write of a run is in ``sale``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadflow.db import queries, rows
from leadflow.db.catalog import LevelRecord
from leadflow.db.connection import Connection
from leadflow.db.leads import LeadRecord
from leadflow.db.rows import record_row
from leadflow.domain.model import DistributionMode

_SQL = queries.load("distribution.sql")


@dataclass(frozen=True, slots=True)
class NicheState:
    id: UUID
    name: str
    distribution_mode: DistributionMode
    next_start_level_order_position: int
    lru_counter: int


@dataclass(frozen=True, slots=True)
class CandidateRow:
    level_id: UUID
    subscription_id: UUID
    provider_id: UUID
    provider_name: str
    provider_email: str
    lru_order: int | None
    # The codes of the subscription's list that decide for this lead: none when it covers every
    # code, else the lead's own code, which the index matched (see ``_CANDIDATES_OF``).
    postal_codes: list[str]
    # The stored filter rules; None when there are none (most subscriptions: no JSON to parse).
    filters: Any
    balance_cents: int
    weight: int
    schedule: Any  # the stored schedule (None: always open)
    hourly_cap: int | None
    daily_cap: int | None
    weekly_cap: int | None
    monthly_cap: int | None
    daily_budget_cents: int | None
    monthly_budget_cents: int | None
    # The subscription's tally (SPEC §12), read only when it has a cap or budget; else None.
    hour_key: int | None
    hour_count: int | None
    day_key: int | None
    day_count: int | None
    day_spend: int | None
    week_key: int | None
    week_count: int | None
    month_key: int | None
    month_count: int | None
    month_spend: int | None
    # Its weighted round-robin credit and that credit's epoch, read in weighted levels only.
    credit: int | None
    credit_epoch: int | None


@dataclass(frozen=True, slots=True)
class LevelRotation:
    """A level's weighting as the engine reads it with the niche locked (SPEC §12)."""

    level_id: UUID
    weighted: bool  # its active weights differ now
    was_weighted: bool  # its last run used weighted order
    credit_epoch: int


@dataclass(frozen=True, slots=True)
class LevelRules:
    """The database's clock when the niche was locked, and the weighting of its active levels."""

    now: datetime
    rotations: dict[UUID, LevelRotation]


def _level_rules(row: dict[str, Any]) -> LevelRules:
    return LevelRules(
        now=row["now"],
        rotations={
            UUID(r["level_id"]): LevelRotation(
                UUID(r["level_id"]), r["weighted"], r["was_weighted"], r["credit_epoch"]
            )
            for r in row["levels"]
        },
    )


def level_rules(conn: Connection, lead_id: UUID) -> LevelRules:
    """The clock and the levels' weighting for the lead's niche (the preview's read)."""
    row = conn.execute(_SQL["level_rules"], {"lead_id": lead_id}).fetchone()
    assert row is not None, "the statement always answers one row"
    return _level_rules(row)


@dataclass(frozen=True, slots=True)
class LockedProvider:
    id: UUID
    balance_cents: int
    active: bool


def niche_state(conn: Connection, niche_id: UUID) -> NicheState:
    """Read the niche without locking it (the preview); a distribution locks it with its lead."""
    with conn.cursor(row_factory=record_row(NicheState)) as cur:
        row = cur.execute(_SQL["niche_state"], (niche_id,)).fetchone()
    assert row is not None, "a lead's niche always exists (foreign key)"
    return row


# How many candidates a level's first read takes: a few more than its seats, so that skips
# rarely make the plan read again.
CANDIDATES_PER_SEAT = 2
EXTRA_CANDIDATES = 8


def first_read_limit(max_recipients: int) -> int:
    """How many candidates the first read of a level with ``max_recipients`` seats takes."""
    return max_recipients * CANDIDATES_PER_SEAT + EXTRA_CANDIDATES


@dataclass(frozen=True, slots=True)
class LockedLead:
    """What the first round trip of a distribution reads, under the lead and niche locks."""

    lead: LeadRecord | None
    niche: NicheState | None
    levels: list[LevelRecord]
    # The first read of each active level's candidates, and the postal code it matched: the
    # lead's code normalized by SQL, which the engine compares with its own normalization.
    candidates: dict[UUID, list[CandidateRow]]
    postal_code_key: str | None
    # Providers that bought the lead's consumer within their ``dedupe_days`` (read unlocked: the
    # sale's guard, or the careful path's read after the provider locks, confirms it).
    consumer_buyers: frozenset[UUID] = frozenset()
    rules: LevelRules | None = None


def lock_and_read(conn: Connection, lead_id: UUID) -> LockedLead:
    """Lock the lead, then (only if it is approved) its niche, and read the niche's levels and
    each active level's first candidates: statements that, on a connection in pipeline mode, go
    out in one round trip; the server runs them one after the other, so the lock order stays
    lead -> niche and the levels and candidates are read after the niche lock is held. The
    providers that bought the lead's consumer come in the same round trip."""
    # Generic plans are as good as custom ones for the engine's statements (the candidate query
    # is shaped for that) and far cheaper to make: custom planning of the candidate query cost
    # more than running it. Only for this transaction.
    conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    lead_cur = conn.cursor()
    lead_cur.execute(_SQL["lead_locked"], (lead_id,))
    niche_cur = conn.cursor()
    niche_cur.execute(_SQL["niche_locked_with_levels"], (lead_id,))
    candidates_cur = conn.cursor(row_factory=record_row(CandidateRow))
    candidates_cur.execute(
        _SQL["candidates"],
        {
            "level_ids": [],
            "limits": [],
            "weighted": [],
            "postal_code": None,
            "lead_id": lead_id,
            "per_seat": CANDIDATES_PER_SEAT,
            "extra": EXTRA_CANDIDATES,
        },
    )
    consumer_cur = conn.cursor()
    consumer_cur.execute(_SQL["consumer_buyers"], {"lead_id": lead_id, "provider_ids": None})
    rules_cur = conn.cursor()
    rules_cur.execute(_SQL["level_rules"], {"lead_id": lead_id})
    row = lead_cur.fetchone()
    key = row.pop("postal_code_key") if row is not None else None
    lead = rows.record(LeadRecord, row) if row is not None else None
    niche_rows = niche_cur.fetchall()
    niche = None
    levels: list[LevelRecord] = []
    if niche_rows:
        first = niche_rows[0]
        niche = rows.record(NicheState, {name: first[name] for name in _NICHE_FIELDS})
        levels = [
            LevelRecord(**{name: r[f"level_{name}"] for name in _LEVEL_FIELDS})
            for r in niche_rows
            if r["level_id"] is not None
        ]
    found: dict[UUID, list[CandidateRow]] = {lv.id: [] for lv in levels if lv.is_active}
    for candidate in candidates_cur.fetchall():
        found[candidate.level_id].append(candidate)
    consumer = frozenset(r["provider_id"] for r in consumer_cur.fetchall())
    rules_row = rules_cur.fetchone()
    rules = _level_rules(rules_row) if rules_row is not None else None
    return LockedLead(lead, niche, levels, found, key, consumer, rules)


_NICHE_FIELDS = tuple(NicheState.__dataclass_fields__)
_LEVEL_FIELDS = tuple(LevelRecord.__dataclass_fields__)


def candidates(
    conn: Connection,
    *,
    level_limits: Mapping[UUID, int],
    postal_code: str,
    weighted: frozenset[UUID] = frozenset(),
) -> dict[UUID, list[CandidateRow]]:
    """The first ``limit`` candidates of each level in LRU order: active subscriptions of active
    providers covering the postal code, with the balance and cap counts the plan needs.

    The two kinds of subscription (everywhere, or listing the code) are disjoint; the first
    ``limit`` of their union are the first ``limit`` of the first ``limit`` of each, so each is
    read from the index that suits it and the work stays flat as a level grows.
    Tallies come by primary key for rows with a cap or budget; credits for ``weighted`` levels.
    """
    if not level_limits:
        return {}
    with conn.cursor(row_factory=record_row(CandidateRow)) as cur:
        rows = cur.execute(
            _SQL["candidates"],
            {
                "level_ids": list(level_limits),
                "limits": list(level_limits.values()),
                "weighted": [level_id in weighted for level_id in level_limits],
                "postal_code": postal_code,
                "lead_id": None,
                "per_seat": CANDIDATES_PER_SEAT,
                "extra": EXTRA_CANDIDATES,
            },
        ).fetchall()
    found: dict[UUID, list[CandidateRow]] = {level_id: [] for level_id in level_limits}
    for row in rows:
        found[row.level_id].append(row)
    return found


def lock_providers(conn: Connection, provider_ids: Sequence[UUID]) -> dict[UUID, LockedProvider]:
    """Lock providers in id order (the global lock order after lead and niche) and read them."""
    rows = conn.execute(_SQL["lock_providers"], (sorted(provider_ids),)).fetchall()
    return {row["id"]: LockedProvider(**row) for row in rows}


def buyers(conn: Connection, lead_id: UUID) -> frozenset[UUID]:
    """The providers that already bought the lead: its resale excludes them."""
    rows = conn.execute(_SQL["buyers"], (lead_id,)).fetchall()
    return frozenset(row["provider_id"] for row in rows)


def consumer_buyers(
    conn: Connection, lead_id: UUID, provider_ids: Sequence[UUID] | None = None
) -> frozenset[UUID]:
    """The providers (of ``provider_ids``, if given) that bought the lead's consumer, in any
    niche, within their ``dedupe_days``: never sold it again (``duplicate_consumer``)."""
    rows = conn.execute(
        _SQL["consumer_buyers"],
        {"lead_id": lead_id, "provider_ids": None if provider_ids is None else list(provider_ids)},
    ).fetchall()
    return frozenset(row["provider_id"] for row in rows)
