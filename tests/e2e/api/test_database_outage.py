"""When the database drops the API's connections (a restart, a failover), the requests that meet
a broken connection get a 503 problem with Retry-After, never a 500, and the API recovers by
itself: the next requests are served on fresh connections, and nothing is stored twice."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from tests.e2e.api.conftest import LEAD, Marketplace

# More attempts than the API's pools hold connections: each stale one fails one request.
ATTEMPTS = 40


def _drop_other_connections(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            """
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
            """
        ).fetchone()
    assert row is not None
    return int(row[0])


def _until_served(call: Any) -> tuple[Any, int]:
    """Repeat ``call`` until it is not a 503; every 503 must be a retryable problem."""
    for unavailable in range(ATTEMPTS):
        response = call()
        if response.status_code != 503:
            return response, unavailable
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 503
        assert int(response.headers["Retry-After"]) > 0
    raise AssertionError(f"still 503 after {ATTEMPTS} attempts")


def test_dropped_connections_are_503_then_served_and_nothing_is_doubled(
    client: TestClient, market: Marketplace, db_url: str
) -> None:
    market.niche(levels=[("Gold", 1, 1000)])
    before = market.get("/admin/leads")["total"]
    assert _drop_other_connections(db_url) > 0

    intake, unavailable = _until_served(lambda: client.post("/api/v1/leads", json=LEAD))
    # The intake pool's connections were all dropped: the first request met a broken one.
    assert unavailable >= 1
    assert intake.status_code == 201, intake.text
    listing, _ = _until_served(
        lambda: client.get("/api/v1/admin/leads", headers=market.admin.headers)
    )
    assert listing.status_code == 200, listing.text
    assert listing.json()["total"] == before + 1
    assert client.get("/readyz").status_code == 200
