"""The candidate query's columns are ``CandidateRow``'s fields, for both of its level sources,
and a subscription without filter rules comes back without any to parse."""

from __future__ import annotations

import dataclasses
import uuid

from psycopg_pool import ConnectionPool

from leadflow.db import distribution
from leadflow.db.connection import Connection
from tests.support.factory import market

Pool = ConnectionPool[Connection]
FIELDS = [f.name for f in dataclasses.fields(distribution.CandidateRow)]


def test_the_candidate_query_selects_the_row_fields_in_order(pool: Pool) -> None:
    statement = distribution._SQL["candidates"]
    common = {"per_seat": 1, "extra": 0}
    with pool.connection() as conn:
        first = conn.execute(
            statement,
            {
                "level_ids": [],
                "limits": [],
                "weighted": [],
                "postal_code": None,
                "lead_id": uuid.uuid4(),
                **common,
            },
        )
        assert first.description is not None
        assert [c.name for c in first.description] == FIELDS
        again = conn.execute(
            statement,
            {
                "level_ids": [],
                "limits": [],
                "weighted": [],
                "postal_code": "10001",
                "lead_id": None,
                **common,
            },
        )
        assert again.description is not None
        assert [c.name for c in again.description] == FIELDS


def test_filters_come_back_only_where_a_subscription_has_rules(pool: Pool) -> None:
    rule = [{"field": "rooms", "op": "gte", "value": 2}]
    m = market(pool, levels=[("Gold", 2, 100)])
    plain = m.add_provider("plain", balance_cents=1000, levels=[1])
    ruled = m.add_provider("ruled", balance_cents=1000, levels=[1], filters=rule)
    level_id = m.level(1).id
    with pool.connection() as conn:
        found = distribution.candidates(conn, level_limits={level_id: 10}, postal_code="10001")
    by_provider = {row.provider_id: row.filters for row in found[level_id]}
    assert by_provider == {plain: None, ruled: rule}
