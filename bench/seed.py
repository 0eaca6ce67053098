"""Benchmark data built with set-based SQL: niches, levels, funded providers and subscriptions,
webhook endpoints, leads, a backlog of sold leads with their deliveries; and the lead lists the
distributors work through."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from bench import common


def market(
    server_url: str,
    name: str,
    *,
    prefix: str,
    niches: int,
    levels: Sequence[tuple[int, int]],
    subscriptions_per_level: int,
    balance_cents: int = 10**12,
    leads: int = 0,
    status: str = "approved",
    also: Callable[[psycopg.Connection[Any], list[Any]], object] | None = None,
) -> tuple[str, list[Any], list[Any]]:
    """A fresh database ``name`` holding a market (``seed_niches``), ``also`` (more data, in
    the same transaction, given the niches), then ``leads`` leads of ``status``; settled. Its URL, the niches and
    the leads (round-robin over the niches)."""
    url = common.fresh_database(server_url, name)
    with psycopg.connect(url) as conn:
        niche_ids = seed_niches(
            conn,
            niches=niches,
            levels=levels,
            subscriptions_per_level=subscriptions_per_level,
            balance_cents=balance_cents,
            prefix=prefix,
        )
        if also is not None:
            also(conn, niche_ids)
        lead_ids = seed_leads(conn, niche_ids, leads, status=status) if leads else []
        conn.commit()
        conn.autocommit = True
        settle(conn)
    return url, niche_ids, lead_ids


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


def seed_endpoints(conn: psycopg.Connection[Any], *, base_url: str, secret_ciphertext: str) -> int:
    """One active webhook endpoint per provider, at ``base_url`` + its number (1, 2, ... in
    provider id order), all sharing one sealed secret. Returns how many."""
    cur = conn.execute(
        """
        INSERT INTO webhook_endpoints (provider_id, url, secret_ciphertext)
        SELECT id, %(base)s || row_number() OVER (ORDER BY id), %(secret)s FROM providers
        """,
        {"base": base_url, "secret": secret_ciphertext},
    )
    return cur.rowcount


def seed_leads(
    conn: psycopg.Connection[Any],
    niche_ids: Sequence[Any],
    count: int,
    *,
    postal_codes: int | None = None,
    status: str = "approved",
    first: int = 1,
) -> list[Any]:
    """``count`` approved leads spread round-robin over the niches (lead i in niche i % n);
    postal codes random among ``postal_codes`` five-digit codes, else all ``10001``; each a
    different consumer (its own normalized phone and e-mail, as intake would store them),
    numbered from ``first`` (another call into the same database starts past the last one).
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
        FROM generate_series(%(first)s::int, %(first)s::int + %(n)s - 1) g
        RETURNING id, name
        """,
        {
            "niches": list(niche_ids),
            "n": count,
            "codes": postal_codes,
            "status": status,
            "first": first,
        },
    ).fetchall()
    ordered = sorted(rows, key=lambda r: int(str(_get(r, "name")).rsplit(" ", 1)[1]))
    return [_get(r, "id") for r in ordered]


def seed_delivery_backlog(
    conn: psycopg.Connection[Any], niche_ids: Sequence[Any], leads: int
) -> int:
    """``leads`` leads already sold, each to every subscription of its niche (lead i in niche
    i % n), with a run, the assignments and one pending ``lead.assigned`` delivery per active
    endpoint of each buyer: the outbox a sale leaves, without the ledger entries (balances are
    not charged). The deliveries are held a day ahead; ``next_attempt_at = now()`` releases
    them. Returns how many deliveries."""
    conn.execute(
        """
        CREATE TEMP TABLE seed_sold ON COMMIT DROP AS
        SELECT gen_random_uuid() AS id, gen_random_uuid() AS run_id, g,
               (%(niches)s::uuid[])[1 + (g - 1) %% cardinality(%(niches)s::uuid[])] AS niche_id
        FROM generate_series(1, %(n)s) g
        """,
        {"niches": list(niche_ids), "n": leads},
    )
    conn.execute(
        """
        INSERT INTO leads (id, niche_id, name, email, phone, postal_code, status, approved_at,
                           distributed_at, distribution_attempts)
        SELECT id, niche_id, 'Sold Lead ' || g, 'sold' || g || '@bench.test', '+15555550100',
               '10001', 'distributed', now(), now(), 1
        FROM seed_sold
        """
    )
    conn.execute(
        """
        INSERT INTO distribution_runs (id, lead_id, niche_id, triggered_by_role, status,
                                       start_level_order_position, assignments_created,
                                       finished_at, duration_ms)
        SELECT b.run_id, b.id, b.niche_id, 'system', 'success', 1,
               (SELECT count(*) FROM subscriptions s
                JOIN competition_levels l ON l.id = s.competition_level_id
                WHERE l.niche_id = b.niche_id), now(), 1
        FROM seed_sold b
        """
    )
    conn.execute(
        """
        INSERT INTO lead_assignments (lead_id, provider_id, subscription_id, competition_level_id,
                                      distribution_run_id, price_charged_cents)
        SELECT b.id, s.provider_id, s.id, l.id, b.run_id, l.price_per_lead_cents
        FROM seed_sold b
        JOIN competition_levels l ON l.niche_id = b.niche_id
        JOIN subscriptions s ON s.competition_level_id = l.id
        """
    )
    cur = conn.execute(
        """
        INSERT INTO webhook_deliveries (endpoint_id, provider_id, lead_id, assignment_id, event,
                                        next_attempt_at)
        SELECT e.id, a.provider_id, a.lead_id, a.id, 'lead.assigned', now() + interval '1 day'
        FROM lead_assignments a
        JOIN seed_sold b ON b.id = a.lead_id
        JOIN webhook_endpoints e ON e.provider_id = a.provider_id AND e.is_active
        """
    )
    return cur.rowcount


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
