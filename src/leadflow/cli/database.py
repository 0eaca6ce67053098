"""``leadflow migrate``: bring the schema (ours and the job queue's) to head."""

from __future__ import annotations

from rich.console import Console

from leadflow.cli import app
from leadflow.cli.context import database
from leadflow.db import migrate as migrations
from leadflow.settings import Settings


@app.command()
def migrate() -> None:
    """Apply all migrations; running it again changes nothing."""
    settings = Settings()
    with database(settings, migrate_first=True) as url:
        Console().print(f"[green]database at revision {migrations.current_revision(url)}[/green]")
