"""Outcome of a distribution run: success, partial or no_eligible (failed is decided by errors)."""

from __future__ import annotations

from leadflow.domain.model import DistributionMode, RunStatus
from leadflow.domain.selection import Plan


def classify(plan: Plan, mode: DistributionMode) -> RunStatus:
    """``success`` when every level that had to sell reached ``max_recipients``.

    In ``all_levels`` that is every active level traversed; in ``first_level`` the level
    that sold. No sale at all is ``no_eligible``, a valid outcome.
    """
    if not plan.sales:
        return RunStatus.NO_ELIGIBLE
    if mode is DistributionMode.FIRST_LEVEL:
        must_fill = [fill for fill in plan.fills if fill.sold > 0]
    else:
        must_fill = list(plan.fills)
    return RunStatus.SUCCESS if all(fill.filled for fill in must_fill) else RunStatus.PARTIAL
