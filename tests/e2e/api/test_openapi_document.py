"""The OpenAPI document states what the API enforces and every status it answers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.e2e.api.conftest import Admin

ERRORS_OF_AN_ADMIN_WRITE = {"400", "401", "403", "405", "413", "415", "422", "503"}


def _spec(client: TestClient) -> dict[str, Any]:
    spec: dict[str, Any] = client.get("/openapi.json").json()
    return spec


def test_every_operation_documents_its_errors_as_problems(client: TestClient) -> None:
    spec = _spec(client)
    responses = spec["components"]["responses"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "405" in codes, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= codes, (method, path)
            if path.startswith("/api/v1/admin/"):
                assert {"401", "403", "503"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    name = response["$ref"].rsplit("/", 1)[-1]
                    content = responses[name]["content"]
                    assert list(content) == ["application/problem+json"], (method, path, code)
    assert set(spec["paths"]["/api/v1/admin/niches"]["post"]["responses"]) >= (
        ERRORS_OF_AN_ADMIN_WRITE | {"409"}
    )
    assert responses["ProblemMethodNotAllowed"]["headers"]["Allow"]["required"] is True
    assert "Retry-After" in responses["ProblemTooManyRequests"]["headers"]
    assert "Retry-After" in responses["ProblemServiceUnavailable"]["headers"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_validation_rules_are_in_the_schema(client: TestClient) -> None:
    spec = _spec(client)
    schemas = spec["components"]["schemas"]
    niche = schemas["NicheIn"]["properties"]
    assert niche["slug"]["pattern"]
    patch = schemas["NichePatch"]["properties"]
    # Leaving a field out keeps it; null is refused, so the schema does not offer it.
    assert patch["name"]["type"] == "string" and "anyOf" not in patch["name"]
    deposit = schemas["DepositIn"]["properties"]["amount_cents"]
    assert (deposit["minimum"], deposit["maximum"]) == (1, 100_000_000_000)
    subscription = schemas["SubscriptionIn"]["properties"]
    assert subscription["filters"]["maxItems"] == 50
    assert set(subscription["filters"]["items"]["discriminator"]["mapping"]) == {
        "eq",
        "in",
        "gte",
        "lte",
        "between",
    }
    jobs = spec["paths"]["/api/v1/admin/jobs"]["get"]["parameters"]
    status = next(p for p in jobs if p["name"] == "status")
    assert set(status["schema"]["anyOf"][0]["enum"]) == {"queued", "running", "succeeded", "failed"}
    for model in ("LeadIn", "NicheIn", "NichePatch", "SubscriptionIn", "DepositIn", "MfaIn"):
        assert schemas[model]["examples"], model


def test_405_names_every_method_of_the_path(client: TestClient, admin: Admin) -> None:
    response = client.delete(f"/api/v1/admin/niches/{'0' * 8}-0000-0000-0000-{'0' * 12}")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["allow"] == "GET, PATCH"
    assert client.put("/api/v1/admin/providers", headers=admin.headers).headers["allow"] == (
        "GET, POST"
    )


def test_a_body_that_is_not_json_is_415(client: TestClient, admin: Admin) -> None:
    for headers in ({"content-type": "text/plain"}, {}):
        response = client.post(
            "/api/v1/admin/niches",
            content=b'{"slug": "movers", "name": "Movers"}',
            headers={**admin.headers, **headers},
        )
        assert response.status_code == 415, headers
        assert response.headers["content-type"] == "application/problem+json"
    ok = client.post(
        "/api/v1/admin/niches",
        content=b'{"slug": "movers", "name": "Movers"}',
        headers={**admin.headers, "content-type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201, ok.text


def test_integral_numbers_are_integers_and_null_is_not_a_patch(
    client: TestClient, admin: Admin
) -> None:
    niche = client.post(
        "/api/v1/admin/niches", json={"slug": "movers", "name": "Movers"}, headers=admin.headers
    ).json()
    level = client.post(
        f"/api/v1/admin/niches/{niche['id']}/levels",
        json={
            "name": "Gold",
            "order_position": 1.0,
            "max_recipients": 2,
            "price_per_lead_cents": 5e3,
        },
        headers=admin.headers,
    )
    assert level.status_code == 201, level.text
    assert level.json()["price_per_lead_cents"] == 5000
    refused = client.patch(
        f"/api/v1/admin/levels/{level.json()['id']}", json={"name": None}, headers=admin.headers
    )
    assert refused.status_code == 422


def test_every_request_body_has_an_example(client: TestClient) -> None:
    spec = _spec(client)
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            body = schemas[ref.rsplit("/", 1)[-1]]
            assert body.get("examples"), (method, path)


def test_intake_declares_the_idempotency_key_and_its_answers(client: TestClient) -> None:
    spec = _spec(client)
    operation = spec["paths"]["/api/v1/leads"]["post"]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert header["required"] is False
    key = header["schema"].get("anyOf", [header["schema"]])[0]
    assert (key["minLength"], key["maxLength"]) == (1, 255)
    assert {"200", "201", "409", "422", "429"} <= set(operation["responses"])
    consent = spec["components"]["schemas"]["ConsentIn"]
    assert set(consent["required"]) == {"text", "captured_at", "ip"}
    assert consent["properties"]["captured_at"]["format"] == "date-time"
