"""Operations at the root: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import hmac

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from leadflow.api.deps import Context
from leadflow.api.problems import RETRY_AFTER_SECONDS, problem
from leadflow.api.routes.common import errors
from leadflow.db.connection import transaction
from leadflow.services import jobs, ops, returns

router = APIRouter(tags=["ops"])
_RETRY = {"Retry-After": str(RETRY_AFTER_SECONDS)}
log = structlog.get_logger(__name__)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses=errors(503))
def readyz(context: Context) -> JSONResponse:
    """The database answers and its schema is at this code's migration head."""
    try:
        with transaction(context.pool) as tx:
            revision = ops.current_revision(tx)
    except Exception as exc:
        # Probes come every few seconds: an outage the pools reported once is not news again.
        level = log.debug if context.reachability.down else log.warning
        level("readiness_failed", error_class=type(exc).__name__)
        return problem(503, "database unreachable", headers=_RETRY)
    if revision != context.head_revision:
        return problem(
            503,
            f"database at revision {revision}, expected {context.head_revision}",
            headers=_RETRY,
        )
    return JSONResponse({"status": "ready", "revision": revision})


@router.get("/metrics", response_class=Response, responses=errors(401))
def metrics(request: Request, context: Context) -> Response:
    """Prometheus text format; needs ``Authorization: Bearer <LEADFLOW_METRICS_TOKEN>`` when set."""
    expected = context.settings.metrics_token
    if expected:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            return problem(
                401, "metrics need the metrics bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
    try:
        with transaction(context.pool) as tx:
            jobs.refresh_queue_depth(tx)
            returns.refresh_metrics(tx)
    except Exception as exc:
        # Metrics stay available while the database is not; the gauges keep their last values.
        level = log.debug if context.reachability.down else log.warning
        level("queue_depth_unavailable", error_class=type(exc).__name__)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
