"""The engine's big statements stay within what psycopg caches the conversion of."""

from __future__ import annotations

from psycopg import _queries

from leadflow.db import distribution, runs


def test_the_sale_statement_fits_psycopgs_query_conversion_cache() -> None:
    # Past this size psycopg re-parses the text's placeholders at every execution, which costs
    # as much as a small statement's round trip, on the engine's hot path.
    limit = _queries.MAX_CACHED_STATEMENT_LENGTH
    for query in (runs._WRITE_RUN, distribution._FIRST_CANDIDATES):
        assert len(query.encode()) <= limit, query[:60]
