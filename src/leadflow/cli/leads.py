"""``leadflow leads erase ID``: a person's right to erasure from a shell (SPEC §11).

Recorded as the admin ``cli:<operator>`` (``--operator``, default the login name), through the
same service as the API, so it is audited alike."""

from __future__ import annotations

import getpass
import json
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from leadflow.cli import app
from leadflow.cli.context import database, pool, require_migrated
from leadflow.db.connection import transaction
from leadflow.domain.errors import DomainError
from leadflow.domain.model import Actor
from leadflow.services import erasure
from leadflow.settings import Settings

leads_app = typer.Typer(no_args_is_help=True, help="Leads: erasure of a person's data.")
app.add_typer(leads_app, name="leads")


@leads_app.command("erase")
def erase(
    lead_id: Annotated[UUID, typer.Argument(help="The lead to erase.")],
    operator: Annotated[
        str | None, typer.Option(help="Who erases, for the audit log (default: your login name).")
    ] = None,
) -> None:
    """Erase the lead's personal data everywhere it is stored; erasing twice changes nothing."""
    settings = Settings()
    actor = Actor.admin(f"cli:{operator or getpass.getuser()}")
    with database(settings) as url:
        require_migrated(url)
        with pool(settings, url, max_size=1) as p:
            try:
                with transaction(p) as tx:
                    result = erasure.erase_lead(tx, actor=actor, lead_id=lead_id)
            except DomainError as exc:
                Console(stderr=True).print(f"[red]{exc.detail}[/red]")
                raise typer.Exit(1) from exc
    typer.echo(
        json.dumps(
            {
                "id": str(result.lead_id),
                "erased_at": result.erased_at.isoformat(),
                "already_erased": result.already_erased,
            }
        )
    )
