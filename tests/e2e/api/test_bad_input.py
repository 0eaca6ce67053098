"""Malformed requests get a 4xx problem+json, never a 500, and change nothing stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from leadflow.db.schema import metadata
from tests.e2e.api.conftest import Marketplace

GOOD_LEAD = {
    "niche": "movers",
    "name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "+1 212 555 0100",
    "postal_code": "10001",
}
MEGABYTE = "x" * (1024 * 1024)
ZERO = "00000000-0000-0000-0000-000000000000"


@dataclass
class Ids:
    niche: str
    level: str
    provider: str
    subscription: str
    lead: str
    distributed: str


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: Callable[[Ids], str]
    body: Any = None
    status: int = 422
    raw: bytes | None = None
    admin: bool = True
    headers: dict[str, str] | None = None
    # A word the problem's detail must hold (the field at fault).
    names: str | None = None


def lead(**changes: Any) -> dict[str, Any]:
    body = {**GOOD_LEAD, **changes}
    return {k: v for k, v in body.items() if v is not None}


CASES = [
    # Public intake.
    Case("lead: empty body", "POST", lambda i: "/api/v1/leads", {}, admin=False),
    Case("lead: missing email", "POST", lambda i: "/api/v1/leads", lead(email=None), admin=False),
    Case("lead: name is a number", "POST", lambda i: "/api/v1/leads", lead(name=123), admin=False),
    Case(
        "lead: attributes is a list",
        "POST",
        lambda i: "/api/v1/leads",
        lead(attributes=[1]),
        admin=False,
    ),
    Case(
        "lead: 1 MB name", "POST", lambda i: "/api/v1/leads", lead(name=MEGABYTE), 413, admin=False
    ),
    Case(
        "lead: 1,001-character name",
        "POST",
        lambda i: "/api/v1/leads",
        lead(name="x" * 1001),
        admin=False,
    ),
    Case(
        "lead: NUL in name",
        "POST",
        lambda i: "/api/v1/leads",
        lead(name="Jane\x00Doe"),
        admin=False,
    ),
    Case(
        "lead: NUL in attributes",
        "POST",
        lambda i: "/api/v1/leads",
        lead(attributes={"a": "b\x00"}),
        admin=False,
    ),
    Case(
        "lead: attributes over 16 KiB",
        "POST",
        lambda i: "/api/v1/leads",
        lead(attributes={f"k{n}": "v" * 900 for n in range(20)}),
        admin=False,
    ),
    Case(
        "lead: bad e-mail",
        "POST",
        lambda i: "/api/v1/leads",
        lead(email="not-an-email"),
        admin=False,
    ),
    Case("lead: bad phone", "POST", lambda i: "/api/v1/leads", lead(phone="call me"), admin=False),
    Case(
        "lead: bad postal code",
        "POST",
        lambda i: "/api/v1/leads",
        lead(postal_code="!!"),
        admin=False,
    ),
    Case(
        "lead: unknown niche",
        "POST",
        lambda i: "/api/v1/leads",
        lead(niche="no-such-niche"),
        admin=False,
    ),
    Case(
        "lead: inactive niche", "POST", lambda i: "/api/v1/leads", lead(niche="closed"), admin=False
    ),
    Case("lead: unknown field", "POST", lambda i: "/api/v1/leads", lead(price=1), admin=False),
    # Leads worth buying (SPEC §11).
    Case(
        "lead: phone no number can have",
        "POST",
        lambda i: "/api/v1/leads",
        lead(phone="+1 555 555 0100"),
        admin=False,
        names="phone",
    ),
    Case(
        "lead: e-mail with a blank inside",
        "POST",
        lambda i: "/api/v1/leads",
        lead(email="jane doe@example.com"),
        admin=False,
        names="email",
    ),
    Case(
        "lead: consent missing where required",
        "POST",
        lambda i: "/api/v1/leads",
        lead(niche="consented"),
        admin=False,
        names="consent",
    ),
    Case(
        "lead: consent captured in the future",
        "POST",
        lambda i: "/api/v1/leads",
        lead(
            niche="consented",
            consent={"text": "yes", "captured_at": "2099-01-01T00:00:00Z", "ip": "192.0.2.1"},
        ),
        admin=False,
        names="captured_at",
    ),
    Case(
        "lead: Idempotency-Key over 255 characters",
        "POST",
        lambda i: "/api/v1/leads",
        lead(),
        admin=False,
        headers={"Idempotency-Key": "k" * 256},
        names="Idempotency-Key",
    ),
    Case(
        "lead: Idempotency-Key reused with another body",
        "POST",
        lambda i: "/api/v1/leads",
        lead(name="Someone Else"),
        409,
        admin=False,
        headers={"Idempotency-Key": "used-once"},
        names="Idempotency-Key",
    ),
    Case(
        "niche: unknown region",
        "PATCH",
        lambda i: f"/api/v1/admin/niches/{i.niche}",
        {"default_region": "XX"},
        names="default_region",
    ),
    Case(
        "niche: negative duplicate window",
        "PATCH",
        lambda i: f"/api/v1/admin/niches/{i.niche}",
        {"duplicate_window_days": -1},
    ),
    Case(
        "niche: lead_ttl_hours 0",
        "POST",
        lambda i: "/api/v1/admin/niches",
        {"slug": "n3", "name": "N", "lead_ttl_hours": 0},
    ),
    Case(
        "provider: negative dedupe_days",
        "PATCH",
        lambda i: f"/api/v1/admin/providers/{i.provider}",
        {"dedupe_days": -1},
    ),
    Case("lead: not JSON", "POST", lambda i: "/api/v1/leads", raw=b"{not json", admin=False),
    Case(
        "lead: lone surrogate",
        "POST",
        lambda i: "/api/v1/leads",
        raw=json.dumps(lead(name="x")).replace('"x"', '"\\ud800"').encode(),
        admin=False,
    ),
    Case(
        "lead: NaN in attributes",
        "POST",
        lambda i: "/api/v1/leads",
        raw=json.dumps(lead(attributes={"rooms": 1}))
        .replace('"rooms": 1', '"rooms": NaN')
        .encode(),
        admin=False,
    ),
    Case(
        "confirm: unknown token",
        "POST",
        lambda i: "/api/v1/leads/confirm",
        {"token": "nope"},
        404,
        admin=False,
    ),
    Case(
        "login: password is a number",
        "POST",
        lambda i: "/api/v1/auth/login",
        {"email": "a@b.co", "password": 1},
    ),
    Case("mfa: missing code", "POST", lambda i: "/api/v1/auth/mfa", {"mfa_token": "x"}),
    # Catalog.
    Case(
        "niche: uppercase slug",
        "POST",
        lambda i: "/api/v1/admin/niches",
        {"slug": "Movers!", "name": "M"},
    ),
    Case(
        "niche: duplicate slug",
        "POST",
        lambda i: "/api/v1/admin/niches",
        {"slug": "movers", "name": "M"},
        409,
    ),
    Case(
        "niche: bad mode",
        "PATCH",
        lambda i: f"/api/v1/admin/niches/{i.niche}",
        {"distribution_mode": "random"},
    ),
    Case("niche: null name", "PATCH", lambda i: f"/api/v1/admin/niches/{i.niche}", {"name": None}),
    Case(
        "niche: negative return window",
        "PATCH",
        lambda i: f"/api/v1/admin/niches/{i.niche}",
        {"return_window_hours": -1},
    ),
    Case(
        "niche: return window as text",
        "POST",
        lambda i: "/api/v1/admin/niches",
        {"slug": "n2", "name": "N", "return_window_hours": "72"},
    ),
    Case(
        "niche: no return reasons",
        "PATCH",
        lambda i: f"/api/v1/admin/niches/{i.niche}",
        {"return_reasons": []},
    ),
    Case(
        "niche: repeated return reason",
        "PATCH",
        lambda i: f"/api/v1/admin/niches/{i.niche}",
        {"return_reasons": ["other", "other"]},
    ),
    Case(
        "niche: return reason with spaces",
        "PATCH",
        lambda i: f"/api/v1/admin/niches/{i.niche}",
        {"return_reasons": ["bad lead"]},
    ),
    Case(
        "niche: auto-approve rate above 1",
        "PATCH",
        lambda i: f"/api/v1/admin/niches/{i.niche}",
        {"auto_approve_returns_under_rate": 1.5},
    ),
    Case(
        "niche: auto-approve rate as bool",
        "POST",
        lambda i: "/api/v1/admin/niches",
        {"slug": "n3", "name": "N", "auto_approve_returns_under_rate": True},
    ),
    Case(
        "niche: null resell",
        "PATCH",
        lambda i: f"/api/v1/admin/niches/{i.niche}",
        {"resell_returned": None},
    ),
    Case("niche: malformed id", "GET", lambda i: "/api/v1/admin/niches/not-a-uuid", status=404),
    Case("niche: unknown id", "GET", lambda i: f"/api/v1/admin/niches/{ZERO}", status=404),
    Case(
        "level: max_recipients 0",
        "POST",
        lambda i: f"/api/v1/admin/niches/{i.niche}/levels",
        {"name": "L", "order_position": 5, "max_recipients": 0, "price_per_lead_cents": 1},
    ),
    Case(
        "level: negative price",
        "POST",
        lambda i: f"/api/v1/admin/niches/{i.niche}/levels",
        {"name": "L", "order_position": 5, "max_recipients": 1, "price_per_lead_cents": -1},
    ),
    Case(
        "level: huge order position",
        "POST",
        lambda i: f"/api/v1/admin/niches/{i.niche}/levels",
        {"name": "L", "order_position": 10**12, "max_recipients": 1, "price_per_lead_cents": 1},
    ),
    Case(
        "level: duplicate order position",
        "POST",
        lambda i: f"/api/v1/admin/niches/{i.niche}/levels",
        {"name": "L", "order_position": 1, "max_recipients": 1, "price_per_lead_cents": 1},
        409,
    ),
    Case(
        "level: unknown niche",
        "POST",
        lambda i: f"/api/v1/admin/niches/{ZERO}/levels",
        {"name": "L", "order_position": 5, "max_recipients": 1, "price_per_lead_cents": 1},
        404,
    ),
    Case(
        "level: patch max_recipients 0",
        "PATCH",
        lambda i: f"/api/v1/admin/levels/{i.level}",
        {"max_recipients": 0},
    ),
    Case(
        "provider: bad e-mail",
        "POST",
        lambda i: "/api/v1/admin/providers",
        {"name": "P", "email": "nope"},
    ),
    Case(
        "provider: short password",
        "POST",
        lambda i: "/api/v1/admin/providers",
        {"name": "P", "email": "p@x.io", "password": "1"},
    ),
    Case(
        "provider: bad status",
        "PATCH",
        lambda i: f"/api/v1/admin/providers/{i.provider}",
        {"status": "gone"},
    ),
    Case("provider: list bad status", "GET", lambda i: "/api/v1/admin/providers?status=gone"),
    Case(
        "deposit: negative",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/deposits",
        {"amount_cents": -5},
    ),
    Case(
        "deposit: zero",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/deposits",
        {"amount_cents": 0},
    ),
    Case(
        "deposit: over the maximum",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/deposits",
        {"amount_cents": 100_000_000_001},
    ),
    Case(
        "deposit: string amount",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/deposits",
        {"amount_cents": "100"},
    ),
    Case(
        "deposit: fractional",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/deposits",
        {"amount_cents": 1.5},
    ),
    Case(
        "deposit: same key, other amount",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/deposits",
        {"amount_cents": 999, "idempotency_key": "k1"},
        409,
    ),
    Case(
        "deposit: unknown provider",
        "POST",
        lambda i: f"/api/v1/admin/providers/{ZERO}/deposits",
        {"amount_cents": 5},
        404,
    ),
    Case(
        "adjustment: zero",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/adjustments",
        {"amount_cents": 0, "reason": "fix"},
    ),
    Case(
        "adjustment: fractional",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/adjustments",
        {"amount_cents": 1.5, "reason": "fix"},
    ),
    Case(
        "adjustment: string amount",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/adjustments",
        {"amount_cents": "-5", "reason": "fix"},
    ),
    Case(
        "adjustment: credit over 10^9",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/adjustments",
        {"amount_cents": 1_000_000_001, "reason": "fix"},
    ),
    Case(
        "adjustment: debit over 10^9",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/adjustments",
        {"amount_cents": -1_000_000_001, "reason": "fix"},
    ),
    Case(
        "adjustment: no reason",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/adjustments",
        {"amount_cents": 5},
    ),
    Case(
        "adjustment: debit below zero",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/adjustments",
        {"amount_cents": -1_000_000, "reason": "fix"},
        409,
    ),
    Case(
        "adjustment: same key, other amount",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/adjustments",
        {"amount_cents": 51, "reason": "fix", "idempotency_key": "a1"},
        409,
    ),
    Case(
        "adjustment: a deposit's key",
        "POST",
        lambda i: f"/api/v1/admin/providers/{i.provider}/adjustments",
        {"amount_cents": 100, "reason": "fix", "idempotency_key": "k1"},
        409,
    ),
    Case(
        "adjustment: unknown provider",
        "POST",
        lambda i: f"/api/v1/admin/providers/{ZERO}/adjustments",
        {"amount_cents": 5, "reason": "fix"},
        404,
    ),
    Case(
        "subscription: malformed filter",
        "POST",
        lambda i: "/api/v1/admin/subscriptions",
        lambda i: {
            "provider_id": i.provider,
            "competition_level_id": i.level,
            "filters": [{"field": "a", "op": "like", "value": 1}],
        },
    ),
    Case(
        "subscription: duplicate",
        "POST",
        lambda i: "/api/v1/admin/subscriptions",
        lambda i: {"provider_id": i.provider, "competition_level_id": i.level},
        409,
    ),
    Case(
        "subscription: unknown provider",
        "POST",
        lambda i: "/api/v1/admin/subscriptions",
        lambda i: {"provider_id": ZERO, "competition_level_id": i.level},
        404,
    ),
    Case(
        "subscription: cap 0",
        "POST",
        lambda i: "/api/v1/admin/subscriptions",
        lambda i: {"provider_id": i.provider, "competition_level_id": i.level, "daily_cap": 0},
    ),
    Case(
        "subscription: bad status",
        "PATCH",
        lambda i: f"/api/v1/admin/subscriptions/{i.subscription}",
        {"status": "x"},
    ),
    Case(
        "subscription: gte needs a number",
        "PATCH",
        lambda i: f"/api/v1/admin/subscriptions/{i.subscription}",
        {"filters": [{"field": "rooms", "op": "gte", "value": "two"}]},
    ),
    Case(
        "subscription: Infinity in a filter",
        "PATCH",
        lambda i: f"/api/v1/admin/subscriptions/{i.subscription}",
        raw=b'{"filters": [{"field": "rooms", "op": "gte", "value": Infinity}]}',
    ),
    # Delivery rules (SPEC §12).
    *(
        Case(
            f"subscription: {what}",
            "POST",
            lambda i: "/api/v1/admin/subscriptions",
            lambda i, rules=rules: {
                "provider_id": i.provider,
                "competition_level_id": i.level,
                **rules,
            },
            names=names,
        )
        for what, rules, names in [
            (
                "unknown time zone",
                {"schedule": {"timezone": "Mars/Olympus", "hours": {}}},
                "timezone",
            ),
            (
                "time zone path",
                {"schedule": {"timezone": "../etc/passwd", "hours": {}}},
                "timezone",
            ),
            (
                "bad time",
                {"schedule": {"timezone": "UTC", "hours": {"mon": [["9:00", "17:00"]]}}},
                "schedule",
            ),
            (
                "hour 25",
                {"schedule": {"timezone": "UTC", "hours": {"mon": [["09:00", "25:00"]]}}},
                "schedule",
            ),
            (
                "start after end",
                {"schedule": {"timezone": "UTC", "hours": {"mon": [["17:00", "09:00"]]}}},
                "start must be before end",
            ),
            (
                "start equals end",
                {"schedule": {"timezone": "UTC", "hours": {"tue": [["09:00", "09:00"]]}}},
                "start must be before end",
            ),
            (
                "overlapping hours",
                {
                    "schedule": {
                        "timezone": "UTC",
                        "hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]},
                    }
                },
                "overlap",
            ),
            (
                "unknown day",
                {"schedule": {"timezone": "UTC", "hours": {"monday": [["09:00", "17:00"]]}}},
                "monday",
            ),
            (
                "interval of one time",
                {"schedule": {"timezone": "UTC", "hours": {"mon": [["09:00"]]}}},
                "schedule",
            ),
            ("schedule without hours", {"schedule": {"timezone": "UTC"}}, "hours"),
            ("weight 0", {"weight": 0}, "weight"),
            ("weight 101", {"weight": 101}, "weight"),
            ("weight as text", {"weight": "5"}, "weight"),
            ("weight true", {"weight": True}, "weight"),
            ("hourly cap 0", {"hourly_cap": 0}, "hourly_cap"),
            ("weekly cap negative", {"weekly_cap": -1}, "weekly_cap"),
            ("daily budget 0", {"daily_budget_cents": 0}, "daily_budget_cents"),
            ("monthly budget text", {"monthly_budget_cents": "100"}, "monthly_budget_cents"),
        ]
    ),
    Case(
        "subscription: more than 7 days",
        "POST",
        lambda i: "/api/v1/admin/subscriptions",
        lambda i: {
            "provider_id": i.provider,
            "competition_level_id": i.level,
            "schedule": {
                "timezone": "UTC",
                "hours": {
                    d: [["09:00", "10:00"]]
                    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "hol")
                },
            },
        },
        names="schedule",
    ),
    Case(
        "subscription: weight null",
        "PATCH",
        lambda i: f"/api/v1/admin/subscriptions/{i.subscription}",
        {"weight": None},
        names="weight",
    ),
    Case(
        "subscription: patch an overlapping schedule",
        "PATCH",
        lambda i: f"/api/v1/admin/subscriptions/{i.subscription}",
        {
            "schedule": {
                "timezone": "Europe/Paris",
                "hours": {"fri": [["08:00", "12:00"], ["10:00", "18:00"]]},
            }
        },
        names="overlap",
    ),
    Case(
        "subscription: patch an unknown zone",
        "PATCH",
        lambda i: f"/api/v1/admin/subscriptions/{i.subscription}",
        {"schedule": {"timezone": "Europe/Atlantis", "hours": {}}},
        names="timezone",
    ),
    Case(
        "subscription: patch hourly cap 0",
        "PATCH",
        lambda i: f"/api/v1/admin/subscriptions/{i.subscription}",
        {"hourly_cap": 0},
        names="hourly_cap",
    ),
    Case(
        "level: negative override price",
        "POST",
        lambda i: f"/api/v1/admin/niches/{i.niche}/levels",
        {
            "name": "Geo",
            "order_position": 9,
            "max_recipients": 1,
            "price_per_lead_cents": 100,
            "price_overrides": [{"postal_prefix": "100", "price_cents": -1}],
        },
        names="price_cents",
    ),
    Case(
        "level: override prefix twice",
        "PATCH",
        lambda i: f"/api/v1/admin/levels/{i.level}",
        {
            "price_overrides": [
                {"postal_prefix": "100", "price_cents": 1},
                {"postal_prefix": " 100", "price_cents": 2},
            ]
        },
        names="listed twice",
    ),
    Case(
        "level: override prefix with a symbol",
        "PATCH",
        lambda i: f"/api/v1/admin/levels/{i.level}",
        {"price_overrides": [{"postal_prefix": "1$", "price_cents": 1}]},
        names="postal_prefix",
    ),
    Case(
        "level: override without a price",
        "PATCH",
        lambda i: f"/api/v1/admin/levels/{i.level}",
        {"price_overrides": [{"postal_prefix": "100"}]},
        names="price_cents",
    ),
    Case(
        "level: overrides null",
        "PATCH",
        lambda i: f"/api/v1/admin/levels/{i.level}",
        {"price_overrides": None},
        names="price_overrides",
    ),
    # Leads, distribution, jobs, audit.
    Case("leads: limit over 200", "GET", lambda i: "/api/v1/admin/leads?limit=201"),
    Case("leads: page 0", "GET", lambda i: "/api/v1/admin/leads?page=0"),
    Case("leads: unknown status", "GET", lambda i: "/api/v1/admin/leads?status=lost"),
    Case("leads: malformed niche id", "GET", lambda i: "/api/v1/admin/leads?niche_id=nope"),
    Case("lead: malformed id", "GET", lambda i: "/api/v1/admin/leads/123", status=404),
    Case("approve: malformed id", "POST", lambda i: "/api/v1/admin/leads/123/approve", status=404),
    Case(
        "approve: unknown lead", "POST", lambda i: f"/api/v1/admin/leads/{ZERO}/approve", status=404
    ),
    Case(
        "approve: distributed lead",
        "POST",
        lambda i: f"/api/v1/admin/leads/{i.distributed}/approve",
        status=409,
    ),
    Case(
        "reject: empty reason",
        "POST",
        lambda i: f"/api/v1/admin/leads/{i.lead}/reject",
        {"reason": ""},
    ),
    Case(
        "reject: distributed lead",
        "POST",
        lambda i: f"/api/v1/admin/leads/{i.distributed}/reject",
        {"reason": "x"},
        409,
    ),
    Case(
        "distribute: not approved",
        "POST",
        lambda i: f"/api/v1/admin/leads/{i.lead}/distribute",
        status=400,
    ),
    Case(
        "distribute: distributed",
        "POST",
        lambda i: f"/api/v1/admin/leads/{i.distributed}/distribute",
        status=409,
    ),
    Case(
        "preview: distributed",
        "POST",
        lambda i: f"/api/v1/admin/leads/{i.distributed}/distribution-preview",
        status=409,
    ),
    Case(
        "preview: malformed id",
        "POST",
        lambda i: "/api/v1/admin/leads/x/distribution-preview",
        status=404,
    ),
    Case(
        "status: unknown lead",
        "GET",
        lambda i: f"/api/v1/admin/leads/{ZERO}/distribution-status",
        status=404,
    ),
    Case(
        "assignments: unknown lead",
        "GET",
        lambda i: f"/api/v1/admin/leads/{ZERO}/assignments",
        status=404,
    ),
    Case("jobs: unknown status", "GET", lambda i: "/api/v1/admin/jobs?status=lost"),
    Case("retry: malformed job id", "POST", lambda i: "/api/v1/admin/jobs/abc/retry", status=404),
    Case("retry: unknown job", "POST", lambda i: "/api/v1/admin/jobs/999999/retry", status=404),
    Case("audit: NUL in filter", "GET", lambda i: "/api/v1/admin/audit-log?action=a%00b"),
    Case("unknown route", "GET", lambda i: "/api/v1/nothing-here", status=404),
]


def _snapshot(db_url: str) -> dict[str, str]:
    """A digest of every table's rows."""
    digests = {}
    with psycopg.connect(db_url) as conn:
        for table in sorted(metadata.tables):
            query = sql.SQL(
                "SELECT md5(COALESCE(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {} t"
            ).format(sql.Identifier(table))
            row = conn.execute(query).fetchone()
            assert row is not None
            digests[table] = row[0]
    return digests


@pytest.fixture
def ids(market: Marketplace, db_url: str) -> Iterator[Ids]:
    from uuid import UUID

    from leadflow.db.connection import create_pool
    from leadflow.domain.model import Actor
    from leadflow.services.distribution import distribute_lead
    from leadflow.settings import Settings

    niche = market.niche(levels=[("Gold", 1, 100)])
    market.niche("closed", levels=[("Gold", 1, 100)], is_active=False)
    market.niche("consented", levels=[("Gold", 1, 100)], require_consent=True)
    used = market.client.post(
        "/api/v1/leads", json=GOOD_LEAD, headers={"Idempotency-Key": "used-once"}
    )
    assert used.status_code == 201, used.text
    provider = market.provider("Acme", balance_cents=10_000, levels=[niche["levels"][0]["id"]])
    market.post(
        f"/admin/providers/{provider['id']}/deposits",
        {"amount_cents": 100, "idempotency_key": "k1"},
    )
    market.post(
        f"/admin/providers/{provider['id']}/adjustments",
        {"amount_cents": 50, "reason": "goodwill", "idempotency_key": "a1"},
    )
    distributed, _ = market.approved_lead()
    pool = create_pool(db_url, Settings(_env_file=None), max_size=1)  # type: ignore[call-arg]
    try:
        distribute_lead(pool, lead_id=UUID(distributed), triggered_by=Actor.system())
    finally:
        pool.close()
    yield Ids(
        niche=niche["id"],
        level=niche["levels"][0]["id"],
        provider=provider["id"],
        subscription=provider["subscriptions"][0]["id"],
        lead=market.lead()["id"],
        distributed=distributed,
    )


def test_bad_requests_get_a_problem_and_change_nothing(
    market: Marketplace, ids: Ids, db_url: str
) -> None:
    before = _snapshot(db_url)
    failures = []
    for case in CASES:
        headers = dict(market.admin.headers) if case.admin else {}
        headers.update(case.headers or {})
        if case.raw is not None:
            headers["content-type"] = "application/json"
            response = market.client.request(
                case.method, case.path(ids), content=case.raw, headers=headers
            )
        else:
            body = case.body(ids) if callable(case.body) else case.body
            response = market.client.request(
                case.method, case.path(ids), json=body, headers=headers
            )
        if response.status_code != case.status:
            failures.append(
                f"{case.name}: {response.status_code} (want {case.status}) {response.text[:200]}"
            )
        elif response.headers.get("content-type") != "application/problem+json":
            failures.append(f"{case.name}: content-type {response.headers.get('content-type')}")
        else:
            problem = response.json()
            if (
                set(problem) < {"type", "title", "status", "detail"}
                or problem["status"] != case.status
            ):
                failures.append(f"{case.name}: not a problem document: {problem}")
            elif case.names is not None and case.names not in problem["detail"]:
                failures.append(f"{case.name}: detail does not name {case.names}: {problem}")
        after = _snapshot(db_url)
        if after != before:
            changed = sorted(t for t in after if after[t] != before[t])
            failures.append(f"{case.name}: changed {changed}")
            before = after
    assert failures == []


def test_chunked_body_over_the_limit_is_413(market: Marketplace) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"niche": "movers", "name": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = market.client.post(
        "/api/v1/leads", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_injection_like_text_is_stored_and_returned_verbatim(market: Marketplace) -> None:
    market.niche(levels=[("Gold", 1, 100)])
    nasty = "Robert'); DROP TABLE leads;-- \" OR 1=1 /* ü 😀"
    created = market.lead(name=nasty, attributes={"note": nasty, nasty: [nasty]})
    stored = market.get(f"/admin/leads/{created['id']}")
    assert stored["name"] == nasty
    assert stored["attributes"] == {"note": nasty, nasty: [nasty]}
    found = market.get("/admin/audit-log", action="'; DELETE FROM audit_log;--")
    assert found["total"] == 0
    provider = market.post("/admin/providers", {"name": nasty, "email": "x@example.com"})
    assert market.get(f"/admin/providers/{provider['id']}")["name"] == nasty
