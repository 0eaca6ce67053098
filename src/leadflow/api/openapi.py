"""The OpenAPI document, completed in one place: every error status an operation can answer.

Routes declare only what their use case adds (a 409, the 429 of a throttled route, the 400 of
a lead that is not approved). What follows from how the app is built is derived here from each
route itself: its auth dependency (401, 403), its path parameters (404: an unknown or malformed
id), its query and body parameters (422), its body (400 unparsable, 413, 415), the database
behind every ``/api/v1`` route (503), and 405 for another method on its path. Every error is
``application/problem+json`` with the ``Problem`` schema, described once under
``components/responses``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from leadflow.api import deps
from leadflow.api.middleware import BODY_METHODS, MAX_BODY_BYTES
from leadflow.api.problems import MEDIA_TYPE, TITLES
from leadflow.api.routes.common import API_PREFIX
from leadflow.api.schemas.base import Problem

_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
# Why each status happens, for the reader of the document.
_WHY: dict[int, str] = {
    400: "The body is not parsable (not UTF-8), or the lead is not approved",
    401: "No bearer token, or a forged, expired or revoked one; or bad credentials",
    403: "The token's user may not use this route",
    404: "No such resource (an unknown or malformed id in the path)",
    405: "This path does not serve this method; `Allow` lists those it serves",
    409: "Conflicts with what is stored (duplicate, wrong state, idempotency key reused)",
    413: f"The request body is over {MAX_BODY_BYTES} bytes",
    415: "The request has a body that is not `application/json`",
    422: "Invalid input: the body or a query parameter breaks the schema or a rule",
    429: "Too many requests from this client; retry after `Retry-After` seconds",
    503: "The database is unavailable for the moment; retry after `Retry-After` seconds",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The scheme to authenticate with: `Bearer`.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    405: {
        "Allow": {
            "description": "The methods this path serves, comma-separated.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {"Retry-After": _RETRY_AFTER},
    503: {"Retry-After": _RETRY_AFTER},
}


def install(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, on first request)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(document: dict[str, Any], routes: Sequence[Any]) -> dict[str, Any]:
    """Add the implied error responses of every operation; all errors refer to one description."""
    components = document.setdefault("components", {})
    used: set[int] = set()
    for route in routing.iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            responses: dict[str, Any] = operation["responses"]
            if "HTTPValidationError" in str(responses.get("422")):
                # FastAPI's guess for any route with parameters; a bad path id is a 404 here.
                del responses["422"]
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(declared | implied_statuses(route, method)):
                responses[str(status)] = {"$ref": f"#/components/responses/{_name(status)}"}
                used.add(status)
            operation["responses"] = dict(sorted(responses.items()))
    components["responses"] = {_name(status): _response(status) for status in sorted(used)}
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema()
    # FastAPI's own 422 shape is never sent: our 422 is a problem document.
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def implied_statuses(route: Any, method: str) -> set[int]:
    """The error statuses that follow from how the route is built."""
    calls = set(_calls(route.dependant))
    flat = list(_dependants(route.dependant))
    statuses = {405}
    if deps.current_principal in calls:
        statuses.add(401)
    if deps.current_admin in calls or deps.current_provider in calls:
        statuses.add(403)
    if any(d.path_params for d in flat):
        statuses.add(404)
    if any(d.query_params or d.header_params or d.body_params for d in flat):
        statuses.add(422)
    if route.body_field is not None:
        statuses.add(400)
    if method in BODY_METHODS:
        statuses |= {413, 415}
    if route.path_format.startswith(API_PREFIX):
        statuses.add(503)
    return statuses


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in _dependants(dependant):
        if sub.call is not None:
            yield sub.call


def _name(status: int) -> str:
    return "Problem" + "".join(word.title() for word in TITLES.get(status, str(status)).split())


def _response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": f"{TITLES.get(status, 'Error')}: {_WHY.get(status, 'see detail')}.",
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response
