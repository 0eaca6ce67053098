"""Ops routes and the app's plumbing: health, readiness, metrics, request ids, OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leadflow.settings import Settings
from tests.e2e.api.conftest import make_client

SPEC_FAMILIES = (
    "distribution_total",
    "distribution_assignments_total",
    "distribution_skipped_total",
    "distribution_duration_seconds",
    "assignment_price_cents_total",
    "fairness_new_provider_priority_total",
    "fairness_rotation_position",
    "job_queue_depth",
    "http_request_duration_seconds",
    "returns_total",
    "refunds_cents_total",
)


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_metrics_declare_every_family_and_http_latency_by_route(client: TestClient) -> None:
    client.get("/healthz")
    text = client.get("/metrics").text
    for family in SPEC_FAMILIES:
        assert f"# TYPE {family} " in text, family
    assert 'http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}' in text


def test_metrics_token_is_required_when_configured(api_settings: Settings, db_url: str) -> None:
    settings = api_settings.model_copy(update={"metrics_token": "s3cret"})
    with make_client(settings, db_url) as c:
        refused = c.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert c.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    assert len(client.get("/healthz").headers["x-request-id"]) == 32


def test_openapi_lists_every_route_with_schemas(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert "/api/v1/admin/leads/{lead_id}/distribution-status" in paths
    assert "/api/v1/leads" in paths
    assert "LeadIn" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200
