"""Calling a service the way the API, worker and CLI do: in a transaction of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection, transaction

P = ParamSpec("P")
R = TypeVar("R")


def committed(
    pool: ConnectionPool[Connection],
    service: Callable[Concatenate[Connection, P], R],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """Run ``service`` in one transaction, committed when it returns, rolled back if it raises."""
    with transaction(pool) as tx:
        return service(tx, *args, **kwargs)
