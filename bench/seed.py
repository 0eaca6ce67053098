"""Benchmark data built with set-based SQL: niches, levels, funded providers and subscriptions,
leads; and the lead lists the distributors work through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg


def seed_niches(
    conn: psycopg.Connection[Any],
    *,
    niches: int,
    levels: Sequence[tuple[int, int]],
    subscriptions_per_level: int,
    balance_cents: int,
    prefix: str,
    mode: str = "all_levels",
) -> list[Any]:
    """Niches with levels ``(max_recipients, price_cents)``, each level with its own funded
    providers. Deposits go through the ledger so the balance equals the sum of entries."""
    conn.execute(
        """
        INSERT INTO niches (slug, name, distribution_mode)
        SELECT %(p)s || '-' || n, initcap(%(p)s) || ' ' || n, %(mode)s FROM generate_series(1, %(n)s) n
        """,
        {"p": prefix, "n": niches, "mode": mode},
    )
    conn.execute(
        """
        INSERT INTO competition_levels (niche_id, name, order_position, max_recipients, price_per_lead_cents)
        SELECT n.id, 'Level ' || l.pos, l.pos, l.maxr, l.price
        FROM niches n, unnest(%(maxr)s::int[], %(price)s::bigint[]) WITH ORDINALITY AS l(maxr, price, pos)
        WHERE n.slug LIKE %(p)s || '-%%'
        """,
        {"p": prefix, "maxr": [m for m, _ in levels], "price": [p for _, p in levels]},
    )
    conn.execute(
        """
        CREATE TEMP TABLE seed_sub ON COMMIT DROP AS
        SELECT l.id AS level_id, gen_random_uuid() AS provider_id, g
        FROM competition_levels l JOIN niches n ON n.id = l.niche_id, generate_series(1, %(k)s) g
        WHERE n.slug LIKE %(p)s || '-%%'
        """,
        {"p": prefix, "k": subscriptions_per_level},
    )
    conn.execute(
        """
        INSERT INTO providers (id, name, email)
        SELECT provider_id, 'Provider ' || left(provider_id::text, 8), left(provider_id::text, 8) || '@bench.test'
        FROM seed_sub
        """
    )
    # Balances move only through the ledger's posting function (migration 0009).
    conn.execute(
        """
        SELECT count(*) FROM leadflow_post_entries((
            SELECT jsonb_agg(jsonb_build_object('provider_id', provider_id, 'amount_cents', %(b)s,
                                                'kind', 'deposit', 'note', 'bench seed'))
            FROM seed_sub))
        """,
        {"b": balance_cents},
    )
    conn.execute(
        "INSERT INTO subscriptions (provider_id, competition_level_id) SELECT provider_id, level_id FROM seed_sub"
    )
    rows = conn.execute(
        "SELECT id FROM niches WHERE slug LIKE %s || '-%%' ORDER BY slug", (prefix,)
    ).fetchall()
    return [r[0] if isinstance(r, tuple) else r["id"] for r in rows]


def seed_leads(
    conn: psycopg.Connection[Any],
    niche_ids: Sequence[Any],
    count: int,
    *,
    postal_codes: int | None = None,
    status: str = "approved",
) -> list[Any]:
    """``count`` approved leads spread round-robin over the niches (lead i in niche i % n);
    postal codes random among ``postal_codes`` five-digit codes, else all ``10001``; each a
    different consumer (its own normalized phone and e-mail, as intake would store them).
    Returned in that round-robin order."""
    rows = conn.execute(
        """
        INSERT INTO leads (niche_id, name, email, phone, postal_code, status, approved_at,
                           email_normalized, phone_e164)
        SELECT (%(niches)s::uuid[])[1 + (g - 1) %% cardinality(%(niches)s::uuid[])],
               'Bench Lead ' || g, 'lead' || g || '@bench.test',
               '+1555' || lpad(g::text, 7, '0'),
               CASE WHEN %(codes)s::int IS NULL THEN '10001'
                    ELSE lpad(floor(random() * %(codes)s::int)::int::text, 5, '0') END,
               %(status)s, CASE WHEN %(status)s = 'approved' THEN now() END,
               'lead' || g || '@bench.test', '+1555' || lpad(g::text, 7, '0')
        FROM generate_series(1, %(n)s) g
        RETURNING id, name
        """,
        {"niches": list(niche_ids), "n": count, "codes": postal_codes, "status": status},
    ).fetchall()
    ordered = sorted(rows, key=lambda r: int(str(_get(r, "name")).rsplit(" ", 1)[1]))
    return [_get(r, "id") for r in ordered]


def approved_leads(url: str, limit: int) -> list[Any]:
    """Some leads still waiting for distribution."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM leads WHERE status = 'approved' ORDER BY name LIMIT %s", (limit,)
        ).fetchall()
    return [r[0] for r in rows]


def still_approved(url: str, lead_ids: Sequence[Any]) -> list[Any]:
    """Those of ``lead_ids`` still waiting for distribution, in the order given."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM leads WHERE id = ANY(%s) AND status = 'approved'", (list(lead_ids),)
        ).fetchall()
    waiting = {r[0] for r in rows}
    return [i for i in lead_ids if i in waiting]


def _get(row: Any, key: str) -> Any:
    return row[key] if isinstance(row, dict) else row[0 if key == "id" else 1]


def settle(conn: psycopg.Connection[Any]) -> None:
    """After building data (``conn`` in autocommit): VACUUM ANALYZE, then CHECKPOINT, so the
    build's dirty pages are written before anything is timed instead of by a checkpoint that
    lands in the middle of a measurement."""
    conn.execute("VACUUM ANALYZE")
    conn.execute("CHECKPOINT")


def seed_past_leads(conn: psycopg.Connection[Any], *, slug: str, count: int) -> None:
    """``count`` past leads of distinct consumers in niche ``slug``, set-based, created over the
    last 29 days (inside a 30-day duplicate window) with their normalized keys; their phones are
    in area 213, so they never match P5's consumers (212)."""
    conn.execute(
        """
        INSERT INTO leads (niche_id, name, email, phone, postal_code, attributes, status,
                           created_at, phone_e164, email_normalized)
        SELECT n.id, 'Past Lead ' || g, 'past' || g || '@bench.test',
               '+1213' || lpad(g::text, 7, '0'), '10001', '{}'::jsonb, 'rejected',
               now() - (g::float8 / %(count)s) * interval '29 days',
               '+1213' || lpad(g::text, 7, '0'), 'past' || g || '@bench.test'
        FROM niches n, generate_series(1, %(count)s) g
        WHERE n.slug = %(slug)s
        """,
        {"slug": slug, "count": count},
    )
