"""Named SQL statements, kept in ``db/sql/*.sql`` and read once at import.

A file holds blocks headed ``-- name --``; the comment lines under a heading say what the
statement does and are dropped with the layout whitespace, so what is sent stays small (psycopg
caches the conversion of a query's placeholders only for texts up to 4 KiB).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources

from leadflow.db.connection import compact

_HEADING = re.compile(r"^-- ([a-z_]+) --[ \t]*$", re.MULTILINE)


def load(file: str) -> Mapping[str, str]:
    """The statements of ``db/sql/<file>`` by name."""
    return parse(file, resources.files("leadflow.db").joinpath("sql", file).read_text("utf-8"))


def parse(file: str, text: str) -> Mapping[str, str]:
    """The statements of ``text`` (the contents of ``file``) by name."""
    parts = _HEADING.split(text)
    statements: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in statements:
            raise ValueError(f"{file}: statement {name!r} is defined twice")
        lines = [line for line in body.splitlines() if not line.lstrip().startswith("--")]
        statements[name] = compact("\n".join(lines))
    return statements
