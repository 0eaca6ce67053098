"""What a distribution run leaves besides the sale: provider mails, audit rows, Prometheus figures.

All of it is written in the run's own transaction (the figures after its commit), so a
rolled-back attempt leaves no mail, no audit row and no count behind.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from prometheus_client import Counter

from leadflow import metrics
from leadflow.db import audit, distribution, outbox, runs
from leadflow.domain.model import RunStatus
from leadflow.domain.money import format_dollars
from leadflow.domain.results import MAX_STORED_SKIPS, DistributionResult, SkippedProvider
from leadflow.domain.selection import Plan
from leadflow.mail.render import render


@dataclass(frozen=True, slots=True)
class Observation:
    """What Prometheus learns from a committed run."""

    niche_id: UUID
    next_pointer: int
    sales: list[tuple[UUID, int]] = field(default_factory=list)  # (level id, price)
    first_time_sales: int = 0


def skip_json(skip: SkippedProvider) -> dict[str, str]:
    return {
        "provider_id": str(skip.provider_id),
        "subscription_id": str(skip.subscription_id),
        "level_id": str(skip.level_id),
        "reason": str(skip.reason),
    }


def mails(
    lead_id: UUID,
    niche_name: str,
    plan: Plan,
    sales: Sequence[runs.SaleRow],
    rows: Mapping[UUID, distribution.CandidateRow],
    paused: Sequence[Mapping[str, object]],
) -> list[outbox.OutgoingMail]:
    """One ``lead_assigned`` mail per sale and one ``low_balance`` mail per paused subscription."""
    result: list[outbox.OutgoingMail] = []
    for sale, planned in zip(sales, plan.sales, strict=True):
        row = rows[sale.subscription_id]
        mail = render(
            "lead_assigned",
            niche_name=niche_name,
            provider_name=row.provider_name,
            level_name=planned.level.name,
            amount=format_dollars(sale.price_cents),
            lead_id=lead_id,
        )
        result.append(
            outbox.OutgoingMail(
                "lead_assigned",
                row.provider_email,
                mail.subject,
                mail.body_text,
                row.provider_id,
                lead_id,
            )
        )
    for change in paused:
        mail = render(
            "low_balance",
            provider_name=change["provider_name"],
            balance=format_dollars(int(str(change["balance_cents"]))),
            price=format_dollars(int(str(change["price_per_lead_cents"]))),
            level_name=change["level_name"],
            niche_name=change["niche_name"],
        )
        result.append(
            outbox.OutgoingMail(
                "low_balance",
                str(change["provider_email"]),
                mail.subject,
                mail.body_text,
                _uuid(change["provider_id"]),
                None,
            )
        )
    return result


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def audit_entries(
    run: runs.RunRow,
    sales: Sequence[runs.SaleRow],
    skipped: Sequence[SkippedProvider],
    paused: Sequence[Mapping[str, object]],
    status: RunStatus,
) -> list[audit.AuditEntry]:
    """The five distribution audit actions, on the lead, with the run id in their metadata."""
    lead = str(run.lead_id)
    base = {"run_id": str(run.id), "job_id": run.job_id}
    entries = [
        audit.AuditEntry(
            "distribution.started",
            "lead",
            lead,
            {
                **base,
                "start_level_order_position": run.start_level_order_position,
                "traversal_order": [str(i) for i in run.traversal_order],
            },
        )
    ]
    entries += [
        audit.AuditEntry(
            "assignment.created",
            "lead",
            lead,
            {
                **base,
                "assignment_id": str(s.assignment_id),
                "provider_id": str(s.provider_id),
                "subscription_id": str(s.subscription_id),
                "competition_level_id": str(s.level_id),
                "price_charged_cents": s.price_cents,
            },
        )
        for s in sales
    ]
    entries += [
        audit.AuditEntry("distribution.skipped_provider", "lead", lead, {**base, **skip_json(s)})
        for s in skipped[:MAX_STORED_SKIPS]
    ]
    entries.append(
        audit.AuditEntry(
            "distribution.completed",
            "lead",
            lead,
            {
                **base,
                "status": str(status),
                "assignments_created": len(sales),
                "skipped_total": len(skipped),
                "paused_subscription_ids": [str(p["subscription_id"]) for p in paused],
            },
        )
    )
    return entries


def observe(result: DistributionResult, seen: Observation) -> None:
    """Prometheus, after the commit, so rolled-back work is never counted."""
    metrics.distribution_total.labels(status=result.status).inc()
    metrics.distribution_duration_seconds.observe(result.duration_ms / 1000)
    for skip in result.skipped:
        metrics.distribution_skipped_total.labels(reason=skip.reason).inc()
    for level_id, price in seen.sales:
        assignments, charged = _level_counters(seen.niche_id, level_id)
        assignments.inc()
        charged.inc(price)
    metrics.fairness_new_provider_priority_total.inc(seen.first_time_sales)
    metrics.fairness_rotation_position.labels(niche_id=str(seen.niche_id)).set(seen.next_pointer)


@functools.lru_cache(maxsize=4096)
def _level_counters(niche_id: UUID, level_id: UUID) -> tuple[Counter, Counter]:
    """A level's two sale counters, looked up once: every sale counts in both, and a label
    lookup (validation, text of the ids, a lock) cost more than the increments."""
    return (
        metrics.distribution_assignments_total.labels(
            niche_id=str(niche_id), level_id=str(level_id)
        ),
        metrics.assignment_price_cents_total.labels(level_id=str(level_id)),
    )
