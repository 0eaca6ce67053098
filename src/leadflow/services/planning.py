"""What a distribution's plan is made from, and the plan made with the provider locks held.

The snapshot holds the lead's rotation and each level's first candidates in LRU order, read
under the niche lock; the pure planner (``domain.selection``) walks it. When the balances the
plan relied on may have moved, ``lock_and_plan`` locks the providers whose balances decide the
plan, in id order, and plans again with what it found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from leadflow.db import catalog, distribution
from leadflow.db.connection import Connection
from leadflow.db.leads import LeadRecord
from leadflow.domain import limits as caps
from leadflow.domain.eligibility import Eligibility, evaluate_stored, normalize_postal_code
from leadflow.domain.errors import InvalidInput
from leadflow.domain.model import DistributionMode, SkipReason
from leadflow.domain.pricing import parse_overrides, price_for
from leadflow.domain.rotation import Level, Rotation, plan_rotation
from leadflow.domain.schedule import is_open, parse_schedule, timezone_of
from leadflow.domain.selection import Candidate, Plan, plan_distribution

T = TypeVar("T")

# Rounds of lock-and-replan before giving up (each round learns exact balances).
MAX_LOCK_ROUNDS = 8
# A weighted level's read takes every candidate: each that can be sold gains its weight.
WEIGHTED_LIMIT = 2_147_483_647


class LockContention(RuntimeError):
    """Balances kept changing under the plan; the attempt fails and the job retries it."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the plan is made from: the lead's rotation and candidates of each level."""

    rotation: Rotation
    mode: DistributionMode
    candidates: dict[UUID, list[Candidate]]
    rows: dict[UUID, distribution.CandidateRow]  # by subscription id
    balances: dict[UUID, int]
    truncated: frozenset[UUID]
    limits: dict[UUID, int]
    # Providers that already bought the lead (a resale): never candidates to buy it again.
    bought: frozenset[UUID] = frozenset()
    # Providers that bought the lead's consumer within their dedupe_days: skipped as
    # ``duplicate_consumer``.
    consumer_buyers: frozenset[UUID] = frozenset()
    # The instant the run decides schedules, caps and budgets at, and the levels' weighting.
    now: datetime | None = None
    rules: distribution.LevelRules | None = None


def levels_for_lead(
    level_rows: Sequence[catalog.LevelRecord],
    rules: distribution.LevelRules,
    postal_code: str,
) -> list[Level]:
    """The levels as the engine sees them for one lead: each at its price for the lead's postal
    code (SPEC §12), weighted or not, and whether that changed since its last run. A level that
    becomes weighted starts a new credit epoch: every credit of the old one counts as 0."""
    levels = []
    for lv in level_rows:
        rotation = rules.rotations.get(lv.id)
        weighted = rotation is not None and rotation.weighted
        was_weighted = rotation is not None and rotation.was_weighted
        epoch = rotation.credit_epoch if rotation is not None else 0
        try:
            overrides = parse_overrides(lv.price_overrides)
        except InvalidInput:
            overrides = ()  # never stored (validated on write); the level's own price then
        levels.append(
            Level(
                lv.id,
                lv.name,
                lv.order_position,
                lv.max_recipients,
                price_for(lv.price_per_lead_cents, overrides, postal_code),
                lv.is_active,
                weighted=weighted,
                switched=weighted != was_weighted,
                credit_epoch=epoch + 1 if weighted and not was_weighted else epoch,
            )
        )
    return levels


def read_snapshot(
    conn: Connection,
    niche: distribution.NicheState,
    level_rows: Sequence[catalog.LevelRecord],
    postal_code: str,
    attributes: Mapping[str, object],
    *,
    rules: distribution.LevelRules,
    now: datetime,
    limits: dict[UUID, int] | None = None,
    first_read: dict[UUID, list[distribution.CandidateRow]] | None = None,
    bought: frozenset[UUID] = frozenset(),
    consumer_buyers: frozenset[UUID] = frozenset(),
) -> tuple[Snapshot, Plan]:
    """Read each level's candidates, enough of them for the plan made from the snapshot's
    balances; returns the snapshot with that plan. ``first_read``, the candidates read with the
    locks (``first_read_limit`` of each level, every one in a weighted level), saves the first
    read. ``now`` decides schedules, caps and budgets; ``rules`` the levels' weighting."""
    levels = levels_for_lead(level_rows, rules, postal_code)
    rotation = plan_rotation(levels, niche.next_start_level_order_position)
    mode = niche.distribution_mode
    code = normalize_postal_code(postal_code)
    weighted = frozenset(level.id for level in rotation.traversal if level.weighted)
    # Read a few more candidates than seats; read more only when skips eat through them.
    limits = dict(
        limits
        or {
            level.id: WEIGHTED_LIMIT
            if level.weighted
            else distribution.first_read_limit(level.max_recipients)
            for level in rotation.traversal
        }
    )
    by_id = {level.id: level for level in rotation.traversal}
    windows: dict[str, caps.Windows] = {}
    while True:
        if first_read is not None:
            found, first_read = first_read, None
            assert found.keys() == limits.keys(), "the first read covers the active levels"
        else:
            found = distribution.candidates(
                conn, level_limits=limits, postal_code=code, weighted=weighted
            )
        rows = {row.subscription_id: row for level_rows in found.values() for row in level_rows}
        snapshot = Snapshot(
            rotation=rotation,
            mode=mode,
            candidates={
                level_id: [
                    _candidate(r, by_id[level_id], code, attributes, now, windows)
                    for r in found[level_id]
                ]
                for level_id in found
            },
            rows=rows,
            balances={row.provider_id: row.balance_cents for row in rows.values()},
            truncated=frozenset(
                level_id for level_id, lim in limits.items() if len(found[level_id]) >= lim
            ),
            limits=dict(limits),
            bought=bought,
            consumer_buyers=consumer_buyers,
            now=now,
            rules=rules,
        )
        made = _plan_with(snapshot, snapshot.balances)
        if not made.needs_more:
            return snapshot, made
        for level_id in made.needs_more:
            limits[level_id] *= 4


def _candidate(
    row: distribution.CandidateRow,
    level: Level,
    postal_code: str,
    attributes: Mapping[str, object],
    now: datetime,
    windows: dict[str, caps.Windows],
) -> Candidate:
    """A candidate row as the planner sees it, with its delivery rules (SPEC §12) decided at
    ``now``: schedule, caps and budgets (at the level's price for this lead), weight, credit."""
    eligibility = evaluate_stored(
        row.postal_codes, [] if row.filters is None else row.filters, postal_code, attributes
    )
    try:
        schedule = parse_schedule(row.schedule)
    except InvalidInput:
        # Never stored (validated on write); fail-safe like a filter that cannot be read.
        schedule, eligibility = None, Eligibility.ERROR
    limit = None
    zone = timezone_of(schedule)
    limits = caps.limits_of(row)
    if limits.any:
        keys = windows.get(zone)
        if keys is None:
            keys = windows[zone] = caps.window_keys(now, zone)
        limit = caps.limit_reached(limits, _tally(row), keys, level.price_cents)
    credit = 0
    if level.weighted and not level.switched and row.credit_epoch == level.credit_epoch:
        credit = row.credit or 0
    return Candidate(
        subscription_id=row.subscription_id,
        provider_id=row.provider_id,
        level_id=row.level_id,
        lru_order=row.lru_order,
        eligibility=eligibility,
        cap_reached=limit is SkipReason.CAP_REACHED,
        outside_schedule=not is_open(schedule, now),
        budget_reached=limit is SkipReason.BUDGET_REACHED,
        weight=row.weight,
        credit=credit,
        timezone=zone,
    )


def _tally(row: distribution.CandidateRow) -> caps.Tally:
    if row.hour_key is None:
        return caps.Tally()
    return caps.Tally(
        row.hour_key,
        row.hour_count or 0,
        row.day_key or 0,
        row.day_count or 0,
        row.day_spend or 0,
        row.week_key or 0,
        row.week_count or 0,
        row.month_key or 0,
        row.month_count or 0,
        row.month_spend or 0,
    )


def _plan_with(
    snapshot: Snapshot,
    balances: Mapping[UUID, int],
    candidates: Mapping[UUID, Sequence[Candidate]] | None = None,
) -> Plan:
    """The plan the snapshot gives with ``balances`` (the ones read, or those found locked),
    over ``candidates`` when some of the snapshot's are no longer candidates."""
    return plan_distribution(
        snapshot.rotation.traversal,
        snapshot.candidates if candidates is None else candidates,
        balances,
        mode=snapshot.mode,
        truncated=snapshot.truncated,
        bought=snapshot.bought,
        consumer_buyers=snapshot.consumer_buyers,
    )


def lock_and_plan(conn: Connection, snapshot: Snapshot) -> Plan:
    """Lock the providers whose balances decide the plan, in id order, and plan with the
    balances found, until the plan needs no provider that is not locked."""
    balances = dict(snapshot.balances)
    locked: set[UUID] = set()
    candidates = snapshot.candidates
    conn.execute("SAVEPOINT provider_locks")
    for _ in range(MAX_LOCK_ROUNDS):
        made = _plan_with(snapshot, balances, candidates)
        needed = made.balance_provider_ids - locked
        if not needed:
            return made
        if locked and min(needed) < max(locked):
            # Taking a lower id now would break the global order: release and start over.
            conn.execute("ROLLBACK TO SAVEPOINT provider_locks")
            needed |= locked
            locked = set()
        found = distribution.lock_providers(conn, sorted(needed))
        locked |= needed
        inactive = {pid for pid in needed if pid not in found or not found[pid].active}
        balances.update({pid: p.balance_cents for pid, p in found.items()})
        if inactive:
            # Suspended since the snapshot: no longer candidates anywhere.
            candidates = {
                level_id: [c for c in level_candidates if c.provider_id not in inactive]
                for level_id, level_candidates in candidates.items()
            }
    raise LockContention("balances kept changing while locking providers")


def plan_with_locks(
    conn: Connection,
    snapshot: Snapshot,
    niche: distribution.NicheState,
    level_rows: Sequence[catalog.LevelRecord],
    lead: LeadRecord,
) -> tuple[Snapshot, Plan]:
    """The careful path's plan: made with the providers whose balances decide it locked. When
    exact balances make a level's walk go deeper than the candidates read, read more (the
    locks released to their savepoint) and lock again. Once the plan's providers are locked,
    whether they bought the lead's consumer is read again (a sale to them in another niche
    may have committed since the first read); if one did, it is excluded and the plan made
    again."""
    while True:
        plan = lock_and_plan(conn, snapshot)
        while plan.needs_more:
            conn.execute("ROLLBACK TO SAVEPOINT provider_locks")
            snapshot, _ = read_snapshot(
                conn,
                niche,
                level_rows,
                lead.postal_code,
                lead.attributes,
                limits={
                    lid: lim * (4 if lid in plan.needs_more else 1)
                    for lid, lim in snapshot.limits.items()
                },
                bought=snapshot.bought,
                consumer_buyers=snapshot.consumer_buyers,
                rules=_known(snapshot.rules),
                now=_known(snapshot.now),
            )
            plan = lock_and_plan(conn, snapshot)
        if not has_consumer_keys(lead) or not plan.balance_provider_ids:
            return snapshot, plan
        fresh = distribution.consumer_buyers(conn, lead.id, sorted(plan.balance_provider_ids))
        if not fresh:
            return snapshot, plan
        # Release the locks (locking a provider the new plan needs could break the id order)
        # and plan again without the ones that bought the consumer meanwhile.
        conn.execute("ROLLBACK TO SAVEPOINT provider_locks")
        snapshot = replace(snapshot, consumer_buyers=snapshot.consumer_buyers | fresh)


def _known(value: T | None) -> T:
    assert value is not None, "a snapshot read by read_snapshot has its rules and instant"
    return value


def has_consumer_keys(lead: LeadRecord) -> bool:
    """Whether the lead has a duplicate key another lead of its consumer could share."""
    return lead.phone_e164 is not None or lead.email_normalized is not None
