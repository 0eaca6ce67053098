"""The auto-approval counts are read from indexes (SPEC §9: "from an index, not a scan")."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from leadflow.db import queries
from leadflow.db.connection import Connection


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found.extend(_nodes(child))
    return found


def test_the_30_day_rate_counts_use_the_indexes(pool: ConnectionPool[Connection]) -> None:
    query = queries.load("returns.sql")["approved_rate_counts"]
    with pool.connection() as conn, conn.transaction():
        # Without sequential scans, the plan can only avoid one if an index serves the query.
        conn.execute("SET LOCAL enable_seqscan = off")
        row = conn.execute(
            "EXPLAIN (FORMAT JSON) " + query,
            {"provider_id": UUID(int=1), "niche_id": UUID(int=2), "period": timedelta(days=30)},
        ).fetchone()
    assert row is not None
    plan = row["QUERY PLAN"]
    nodes = _nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
    scans = {(n.get("Relation Name"), n["Node Type"], n.get("Index Name")) for n in nodes}
    indexes = {index for _, _, index in scans if index}
    assert "ix_lead_returns_approved" in indexes
    assert "ix_lead_assignments_provider_id_assigned_at" in indexes
    assert not [s for s in scans if s[1] == "Seq Scan" and s[0] != "competition_levels"], scans
