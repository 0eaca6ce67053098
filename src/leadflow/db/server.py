"""Where the database is: DATABASE_URL, or an embedded PostgreSQL (PyPI ``pgserver``)."""

from __future__ import annotations

import contextlib
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import structlog

from leadflow.settings import Settings

log = structlog.get_logger(__name__)


class EmbeddedServerError(RuntimeError):
    """The embedded PostgreSQL could not start."""


def postgres_program(name: str) -> str:
    """The path of a PostgreSQL client program (``pg_dump``, ``pgbench``): the one shipped in
    the ``pgserver`` wheel (the embedded server's own version), else the one on ``PATH``."""
    import pgserver

    shipped = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
    if shipped.exists():
        return str(shipped)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found (it ships in the pgserver wheel)")
    return found


@contextlib.contextmanager
def embedded_server(data_dir: Path) -> Iterator[str]:
    """Start (or join) the embedded PostgreSQL in ``data_dir`` and yield its URL.

    The data is kept across runs. The server stops when the last process using it leaves.
    """
    try:
        with warnings.catch_warnings():
            # pgserver asks platformdirs for a runtime dir it does not need here.
            warnings.simplefilter("ignore")
            from pgserver import get_server  # type: ignore[attr-defined]
    except ImportError as exc:  # pragma: no cover - pgserver is a declared dependency
        raise EmbeddedServerError("the embedded server needs the 'pgserver' package") from exc
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(data_dir, cleanup_mode="stop")
    except Exception as exc:
        raise EmbeddedServerError(
            f"could not start the embedded PostgreSQL in {data_dir.name!r}: {exc}. "
            "Set DATABASE_URL to use an existing server instead."
        ) from exc
    uri: str = server.get_uri()
    log.info("embedded_postgres_started", data_dir=data_dir.name)
    try:
        yield uri
    finally:
        server.cleanup()


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """Yield the URL to use: DATABASE_URL when set, else the embedded server's."""
    if settings.database_url:
        yield settings.database_url
        return
    with embedded_server(settings.home / "pgdata") as uri:
        yield uri
