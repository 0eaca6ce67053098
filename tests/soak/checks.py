"""After the drain: what the run did (facts) and whether every promise held (checks).

The checks read the database directly and compare it with what the clients were told and
what the SMTP sink received; SPEC §2's invariants are the ones every test already checks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from leadflow.domain.facts import LEAD_ASSIGNED
from tests.soak.run import Collected
from tests.support import invariants
from tests.support.invariants import CHECKS

SELLING = ("success", "partial")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    held: bool
    detail: str = ""


@dataclass
class Report:
    facts: list[tuple[str, str, str]]  # section, label, value
    checks: list[Check]

    @property
    def held(self) -> bool:
        return all(c.held for c in self.checks)


def _rows(conn: psycopg.Connection[Any], query: str, *params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def _one(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    found = _rows(conn, query, *params)
    return next(iter(found[0].values())) if found else None


def _sample(values: list[Any], limit: int = 3) -> str:
    return ", ".join(str(v) for v in values[:limit]) + (" …" if len(values) > limit else "")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def evaluate(collected: Collected) -> Report:
    with psycopg.connect(collected.database_url) as conn:
        facts = _facts(conn, collected)
        checks = [
            *_spec_invariants(conn),
            *_intake(conn, collected),
            *_distribution(conn),
            *_money(conn, collected),
            *_mail(conn, collected),
            *_webhooks(conn, collected),
            *_jobs(conn, collected),
            *_http(collected),
        ]
    return Report(facts, checks)


# ---------------------------------------------------------------- facts


def _facts(conn: psycopg.Connection[Any], c: Collected) -> list[tuple[str, str, str]]:
    statuses = Counter(r["status"] for r in c.intake)
    refused = sum(n for s, n in statuses.items() if s != 201)
    lead_status = {
        r["status"]: r["n"]
        for r in _rows(conn, "SELECT status, count(*) AS n FROM leads GROUP BY 1")
    }
    no_eligible_leads = _one(
        conn,
        "SELECT count(*) FROM leads l WHERE l.status = 'approved' AND EXISTS "
        "(SELECT 1 FROM distribution_runs r WHERE r.lead_id = l.id AND r.status = 'no_eligible')",
    )
    rerun = _one(
        conn,
        "SELECT count(*) FROM (SELECT lead_id FROM distribution_runs WHERE status = 'no_eligible' "
        "GROUP BY lead_id HAVING count(*) > 1) t",
    )
    runs = {
        r["status"]: r["n"]
        for r in _rows(conn, "SELECT status, count(*) AS n FROM distribution_runs GROUP BY 1")
    }
    latencies = [
        float(r["s"])
        for r in _rows(
            conn,
            "SELECT extract(epoch FROM distributed_at - approved_at) AS s FROM leads "
            "WHERE status = 'distributed'",
        )
    ]
    sales = _one(conn, "SELECT count(*) FROM lead_assignments")
    mail_delays = [
        float(r["s"])
        for r in _rows(
            conn,
            "SELECT extract(epoch FROM m.sent_at - a.assigned_at) AS s FROM email_outbox m "
            "JOIN lead_assignments a ON a.lead_id = m.lead_id AND a.provider_id = m.provider_id "
            "WHERE m.template = 'lead_assigned' AND m.sent_at IS NOT NULL",
        )
    ]
    job_counts = _rows(
        conn,
        "SELECT task_name, status, count(*) AS n FROM procrastinate_jobs "
        "WHERE queue_name <> 'maintenance' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    paused = _one(conn, "SELECT count(*) FROM email_outbox WHERE template = 'low_balance'")
    resumed = _one(
        conn,
        "SELECT COALESCE(sum(jsonb_array_length(metadata->'resumed_subscription_ids')), 0) "
        "FROM audit_log WHERE action = 'provider.deposit'",
    )
    faults = Counter(f.kind for f in c.faults)
    fault_text = ", ".join(f"{n} x {k}" for k, n in sorted(faults.items())) or "none"
    if not c.restarts_possible:
        fault_text += " (DATABASE_URL set: no PostgreSQL restarts)"
    windows = ", ".join(f"{o.kind} {o.answered - o.began:.1f} s" for o in c.outages) or "none"
    inside, outside = _fivexx(c)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    slow_in, slow_out = _slowest(c)
    facts = [
        (
            "traffic",
            "run",
            f"{c.load_seconds:.0f} s load at {c.options.rate:g} leads/s, drained in {c.drain_seconds:.0f} s",
        ),
        ("traffic", "leads in (posted)", str(len(c.intake))),
        ("traffic", "stored (201)", str(statuses.get(201, 0))),
        ("traffic", "refused", f"{refused} ({_counts(statuses, skip=201)})" if refused else "0"),
        (
            "traffic",
            "approved (answers to approve)",
            f"{sum(200 in v for v in c.approvals.values())} "
            f"({_counts(Counter(x for v in c.approvals.values() for x in v))})",
        ),
        (
            "traffic",
            "sold (distributed)",
            f"{lead_status.get('distributed', 0)} leads, {sales} assignments",
        ),
        (
            "traffic",
            "no_eligible (approved, unsold)",
            f"{no_eligible_leads} ({rerun} with more than one no_eligible run)",
        ),
        ("traffic", "distribution runs", _counts(Counter(runs))),
        (
            "traffic",
            "deposits accepted",
            f"{len(c.deposits_accepted)} (+{len(c.repeats)} repeated keys)",
        ),
        ("traffic", "low-balance pauses / re-activations", f"{paused} / {resumed}"),
        ("traffic", "mails received at the sink", str(len(c.received))),
        (
            "traffic",
            "jobs",
            ", ".join(f"{r['n']} {r['task_name']} {r['status']}" for r in job_counts),
        ),
        ("faults", "injected", fault_text),
        ("faults", "outage windows (stop → answering)", windows),
        ("faults", "processes that exited by themselves", _sample(c.unplanned_exits, 5) or "none"),
        ("HTTP", "5xx inside outages", _counts(inside) or "0"),
        ("HTTP", "5xx outside outages", _counts(outside) or "0"),
        ("HTTP", "slowest answer inside / outside outages", f"{_ms(slow_in)} / {_ms(slow_out)}"),
        ("latency", "approve → sold p50 / p99", f"{_ms(p50)} / {_ms(p99)}"),
        (
            "latency",
            "sale → lead_assigned mail sent p99 / max",
            f"{_ms(percentile(mail_delays, 99))} / {_ms(max(mail_delays, default=None))}",
        ),
    ]
    return facts


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.0f} ms"


def _counts(counter: Counter[Any], skip: Any = None) -> str:
    return ", ".join(
        f"{n} x {'no answer' if k == 0 else k}" for k, n in sorted(counter.items()) if k != skip
    )


def _answers(c: Collected) -> list[tuple[float, float, int, str | None]]:
    """(sent, answered, status, Retry-After) of every HTTP exchange, intake and admin."""
    out = [(r["sent"], r["answered"], r["status"], r.get("retry_after")) for r in c.intake]
    out += [(a.sent, a.answered, a.status, a.retry_after) for a in c.admin]
    return out


def _inside(c: Collected, sent: float, answered: float) -> bool:
    return any(o.covers(sent, answered) for o in c.outages)


def _slowest(c: Collected) -> tuple[float | None, float | None]:
    """The longest request, among those that met an outage window and those that did not."""
    inside: list[float] = [0.0]
    outside: list[float] = [0.0]
    for sent, answered, _, _ in _answers(c):
        (inside if _inside(c, sent, answered) else outside).append(answered - sent)
    return (max(inside) if c.outages else None), max(outside)


def _fivexx(c: Collected) -> tuple[Counter[int], Counter[int]]:
    """5xx and unanswered requests, split by whether they met an outage window."""
    inside: Counter[int] = Counter()
    outside: Counter[int] = Counter()
    for sent, answered, status, _ in _answers(c):
        if status == 0 or status >= 500:
            (inside if _inside(c, sent, answered) else outside)[status] += 1
    return inside, outside


# ---------------------------------------------------------------- checks


def _spec_invariants(conn: psycopg.Connection[Any]) -> list[Check]:
    broken = invariants.violations(conn)
    return [
        Check(f"§2: {name}", name not in broken, _sample(broken.get(name, []))) for name in CHECKS
    ]


def _intake(conn: psycopg.Connection[Any], c: Collected) -> list[Check]:
    stored = _rows(conn, "SELECT id::text AS id, (attributes->>'seq')::int AS seq FROM leads")
    by_seq = Counter(r["seq"] for r in stored)
    twice = [s for s, n in by_seq.items() if n > 1]
    answered_201 = {r["seq"]: r["id"] for r in c.intake if r["status"] == 201}
    ids = {r["seq"]: r["id"] for r in stored}
    lost = [s for s, lead_id in answered_201.items() if ids.get(s) != lead_id]
    refused_but_stored = [r["seq"] for r in c.intake if r["status"] >= 400 and r["seq"] in by_seq]
    unapproved = _one(conn, "SELECT count(*) FROM leads WHERE status = 'pending_approval'")
    status_of = {
        r["id"]: r["status"] for r in _rows(conn, "SELECT id::text AS id, status FROM leads")
    }
    # An approval answered 503 must not have happened: the operator was told to try again.
    refused_but_approved = [
        lead_id
        for lead_id, answers in c.approvals.items()
        if 200 not in answers
        and any(a >= 500 for a in answers)
        and status_of.get(lead_id) != "pending_approval"
    ]
    return [
        Check(
            "every lead answered 201 is stored, once", not lost and not twice, _sample(lost + twice)
        ),
        Check(
            "no lead refused (4xx/5xx) was stored",
            not refused_but_stored,
            _sample(refused_but_stored),
        ),
        Check("every stored lead was approved", unapproved == 0, f"{unapproved} pending"),
        Check(
            "no approval answered 5xx took effect",
            not refused_but_approved,
            _sample([f"{x} {c.approvals[x]}" for x in refused_but_approved]),
        ),
    ]


def _distribution(conn: psycopg.Connection[Any]) -> list[Check]:
    unsettled = _rows(
        conn,
        """
        SELECT l.id, l.status,
               (SELECT r.status FROM distribution_runs r WHERE r.lead_id = l.id
                ORDER BY r.started_at DESC, r.id DESC LIMIT 1) AS last_run
        FROM leads l
        WHERE l.status = 'approved'
        """,
    )
    unsettled = [r for r in unsettled if r["last_run"] != "no_eligible"]
    sold_twice = _rows(
        conn,
        "SELECT lead_id FROM distribution_runs WHERE status IN ('success', 'partial') "
        "GROUP BY lead_id HAVING count(*) > 1",
    )
    double = _rows(
        conn,
        "SELECT lead_id, provider_id FROM lead_assignments GROUP BY 1, 2 HAVING count(*) > 1",
    )
    return [
        Check(
            "every approved lead is distributed or no_eligible",
            not unsettled,
            _sample([f"{r['id']} ({r['last_run']})" for r in unsettled]),
        ),
        Check(
            "a lead is sold by one run only (the soak returns nothing)",
            not sold_twice,
            _sample([r["lead_id"] for r in sold_twice]),
        ),
        Check("no assignment twice (lead, provider)", not double, _sample(double)),
    ]


def _money(conn: psycopg.Connection[Any], c: Collected) -> list[Check]:
    credited = {
        r["key"]: (r["n"], r["amount"])
        for r in _rows(
            conn,
            "SELECT idempotency_key AS key, count(*) AS n, sum(amount_cents) AS amount "
            "FROM ledger_entries WHERE kind = 'deposit' AND idempotency_key LIKE 'soak-deposit-%%' "
            "GROUP BY 1",
        )
    }
    wrong = [
        k
        for k in set(credited) | set(c.deposits_accepted)
        if credited.get(k) != (1, c.deposits_accepted.get(k))
    ]
    repeats_differ = [k for k, same in c.repeats if not same]
    charges = _one(
        conn,
        "SELECT count(*) FROM lead_assignments a WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e "
        "WHERE e.assignment_id = a.id AND e.kind = 'lead_charge')",
    )
    return [
        Check(
            "every accepted deposit credited once, none other",
            not wrong and not c.deposits_unconfirmed,
            _sample(wrong + list(c.deposits_unconfirmed)),
        ),
        Check(
            "no deposit answered 5xx was credited",
            not c.deposits_5xx_credited,
            _sample(c.deposits_5xx_credited),
        ),
        Check(
            "a repeated deposit key answers the first entry",
            not repeats_differ,
            _sample(repeats_differ),
        ),
        Check("every sale has its charge", charges == 0, f"{charges} without"),
    ]


def _mail(conn: psycopg.Connection[Any], c: Collected) -> list[Check]:
    outbox = _rows(conn, "SELECT message_id, template, status FROM email_outbox")
    received = Counter(r.message_id for r in c.received)
    assigned = [m for m in outbox if m["template"] == "lead_assigned"]
    sales = _one(conn, "SELECT count(*) FROM lead_assignments")
    missing = [
        m["message_id"]
        for m in assigned
        if m["status"] != "sent" or m["message_id"] not in received
    ]
    others = [
        m["message_id"]
        for m in outbox
        if m["template"] != "lead_assigned"
        and (m["status"] != "sent" or m["message_id"] not in received)
    ]
    known = {m["message_id"] for m in outbox}
    strangers = [mid for mid in received if mid not in known]
    duplicates = sum(n - 1 for n in received.values() if n > 1)
    events = {
        (r["topic"], r["status"]): r["n"]
        for r in _rows(conn, "SELECT topic, status, count(*) AS n FROM outbox_events GROUP BY 1, 2")
    }
    undispatched = [f"{n} {t} {s}" for (t, s), n in events.items() if s != "dispatched"]
    assigned_events = events.get((LEAD_ASSIGNED, "dispatched"), 0)
    return [
        Check("every outbox event dispatched", not undispatched, ", ".join(undispatched)),
        Check(
            "one lead.assigned event per sale",
            assigned_events == sales,
            f"{assigned_events} events, {sales} sales",
        ),
        Check(
            "one lead_assigned mail per sale",
            len(assigned) == sales,
            f"{len(assigned)} mails, {sales} sales",
        ),
        Check(
            "every lead_assigned mail received and marked sent",
            not missing,
            _sample(missing) + (f"; {duplicates} resent (same Message-ID)" if duplicates else ""),
        ),
        Check("every other mail received and marked sent", not others, _sample(others)),
        Check("no mail the outbox did not write", not strangers, _sample(strangers)),
    ]


def _webhooks(conn: psycopg.Connection[Any], c: Collected) -> list[Check]:
    """Every provider has one endpoint: one delivery per sale, each delivered, and each
    received by its buyer's path with a valid signature (at least once: a worker killed
    mid-send sends it again, with the same delivery id)."""
    deliveries = _rows(
        conn,
        "SELECT id::text AS id, provider_id::text AS provider_id, status "
        "FROM webhook_deliveries WHERE event = 'lead.assigned'",
    )
    sales = _one(conn, "SELECT count(*) FROM lead_assignments")
    seen: Counter[tuple[str, str]] = Counter((p, i) for p, i, _ in c.hooks_received)
    unsigned = [i for _, i, valid in c.hooks_received if not valid]
    undelivered = [d["id"] for d in deliveries if d["status"] != "delivered"]
    unreceived = [
        d["id"] for d in deliveries if (c.hook_paths.get(d["provider_id"], ""), d["id"]) not in seen
    ]
    known = {d["id"] for d in deliveries}
    strangers = [i for _, i, _ in c.hooks_received if i not in known]
    resent = sum(n - 1 for n in seen.values() if n > 1)
    return [
        Check(
            "one webhook delivery per sale",
            len(deliveries) == sales,
            f"{len(deliveries)} deliveries, {sales} sales",
        ),
        Check("every delivery delivered", not undelivered, _sample(undelivered)),
        Check(
            "every delivery received by its buyer",
            not unreceived,
            _sample(unreceived)
            + (f"; {resent} received more than once (same delivery id)" if resent else ""),
        ),
        Check("every received delivery correctly signed", not unsigned, _sample(unsigned)),
        Check("no delivery the outbox did not write", not strangers, _sample(strangers)),
    ]


def _jobs(conn: psycopg.Connection[Any], c: Collected) -> list[Check]:
    by_status = _rows(
        conn,
        "SELECT task_name, status, count(*) AS n FROM procrastinate_jobs "
        "WHERE queue_name <> 'maintenance' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    open_jobs = [
        f"{r['n']} {r['task_name']} {r['status']}"
        for r in by_status
        if r["status"] in ("todo", "doing")
    ]
    without_job = _one(
        conn,
        "SELECT count(*) FROM leads l WHERE l.status IN ('approved', 'distributed') AND NOT EXISTS "
        "(SELECT 1 FROM procrastinate_jobs j WHERE j.task_name = 'distribute_lead' "
        "AND j.args->>'lead_id' = l.id::text)",
    )
    unexplained = _rows(
        conn,
        "SELECT j.id FROM procrastinate_jobs j WHERE j.task_name = 'distribute_lead' "
        "AND j.status = 'failed' AND NOT EXISTS (SELECT 1 FROM audit_log a "
        "WHERE a.action = 'job.dead_lettered' AND (a.metadata->>'job_id')::bigint = j.id)",
    )
    failed = [f"{r['n']} {r['task_name']}" for r in by_status if r["status"] == "failed"]
    return [
        Check(
            "drained: nothing queued, running or pending",
            c.drained and not open_jobs,
            ", ".join(open_jobs) or ("" if c.drained else "drain timed out"),
        ),
        Check(
            "every approved lead has its distribution job",
            without_job == 0,
            f"{without_job} without",
        ),
        Check(
            "every failed job is a dead letter with its error",
            not unexplained,
            f"failed: {', '.join(failed) or 'none'}",
        ),
    ]


def _http(c: Collected) -> list[Check]:
    answers = _answers(c)
    errors = [s for _, _, s, _ in answers if s >= 500 and s != 503]
    outside = [
        (sent, s)
        for sent, answered, s, _ in answers
        if (s == 503 or s == 0) and not _inside(c, sent, answered)
    ]
    no_retry_after = [s for _, _, s, ra in answers if s == 503 and not ra]
    return [
        Check("0 x 500 (no 5xx but 503), at any time", not errors, _counts(Counter(errors))),
        Check(
            "503 / no answer only inside outage windows",
            not outside,
            _counts(Counter(s for _, s in outside)),
        ),
        Check(
            "every 503 carries Retry-After", not no_retry_after, f"{len(no_retry_after)} without"
        ),
    ]
