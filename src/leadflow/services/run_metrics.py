"""What Prometheus learns from a committed distribution run (after its commit, so rolled-back
work is never counted)."""

from __future__ import annotations

import functools
from uuid import UUID

from prometheus_client import Counter

from leadflow import metrics
from leadflow.domain.sale import SaleDraft


def observe(draft: SaleDraft) -> None:
    run = draft.run
    metrics.distribution_total.labels(status=run.status).inc()
    metrics.distribution_duration_seconds.observe(run.duration_ms / 1000)
    for skip in run.skipped:
        metrics.distribution_skipped_total.labels(reason=skip.reason).inc()
    for line in draft.sales:
        assignments, charged = _level_counters(run.niche_id, line.level_id)
        assignments.inc()
        charged.inc(line.price_cents)
    metrics.fairness_new_provider_priority_total.inc(sum(s.first_time for s in draft.sales))
    metrics.fairness_rotation_position.labels(niche_id=str(run.niche_id)).set(draft.next_pointer)


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
