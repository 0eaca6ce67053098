"""The named SQL statements load, and each stays small enough to be cached and prepared."""

from __future__ import annotations

from importlib import resources

import pytest

from leadflow.db import queries

# psycopg converts a query's ``%(name)s`` placeholders once and caches the result, for texts up
# to 4 KiB (``MAX_CACHED_STATEMENT_LENGTH`` in psycopg 3.2); past that it parses the text at
# every execution, which costs as much as a small statement's round trip on the engine's path.
PSYCOPG_CACHED_QUERY_BYTES = 4096


def _files() -> list[str]:
    folder = resources.files("leadflow.db").joinpath("sql")
    return sorted(f.name for f in folder.iterdir() if f.name.endswith(".sql"))


def test_every_statement_fits_psycopgs_query_conversion_cache() -> None:
    assert _files(), "the statements live in db/sql"
    for file in _files():
        statements = queries.load(file)
        assert statements, file
        for name, text in statements.items():
            assert len(text.encode()) <= PSYCOPG_CACHED_QUERY_BYTES, (file, name)
            assert "--" not in text, (file, name)  # descriptions are dropped, not sent


def test_a_statement_defined_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        queries.parse("twice.sql", "-- a --\nSELECT 1\n-- a --\nSELECT 2\n")
