"""Helpers shared by routers: problem responses for OpenAPI and page mapping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from leadflow.api.schemas.base import PageOut
from leadflow.services.pages import Page

API_PREFIX = "/api/v1"

T = TypeVar("T")
U = TypeVar("U")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the statuses a route's use case adds; ``api.openapi``
    adds those that follow from the route's shape and describes all of them as problem+json."""
    return {status: {"description": "A problem document"} for status in statuses}


def page_out(page: Page[T], convert: Callable[[T], U]) -> PageOut[U]:
    return PageOut[U](
        page=page.page, limit=page.limit, total=page.total, items=[convert(i) for i in page.items]
    )
