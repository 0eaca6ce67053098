"""``leadflow returns list|approve|deny``: the return queue from a shell (SPEC §9).

Decisions are recorded as the admin ``cli:<operator>`` (``--operator``, default the login
name), through the same services as the API, so they are audited and mailed alike."""

from __future__ import annotations

import contextlib
import getpass
import json
from collections.abc import Iterator
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from leadflow.cli import app
from leadflow.cli.context import database, pool, require_migrated
from leadflow.db.connection import Connection, transaction
from leadflow.domain.errors import DomainError
from leadflow.domain.model import Actor
from leadflow.services import returns as service
from leadflow.services.pages import PageRequest
from leadflow.settings import Settings

returns_app = typer.Typer(no_args_is_help=True, help="Review and decide lead returns.")
app.add_typer(returns_app, name="returns")

Operator = Annotated[
    str | None, typer.Option(help="Who decides, for the audit log (default: your login name).")
]


@contextlib.contextmanager
def _tx() -> Iterator[Connection]:
    settings = Settings()
    with database(settings) as url:
        require_migrated(url)
        with pool(settings, url, max_size=1) as p:
            try:
                with transaction(p) as tx:
                    yield tx
            except DomainError as exc:
                Console(stderr=True).print(f"[red]{exc.detail}[/red]")
                raise typer.Exit(1) from exc


def _actor(operator: str | None) -> Actor:
    return Actor.admin(f"cli:{operator or getpass.getuser()}")


@returns_app.command("list")
def list_returns(
    status: Annotated[
        str | None, typer.Option(help="requested, approved or denied (default: all).")
    ] = "requested",
    provider_id: Annotated[UUID | None, typer.Option(help="Only this provider's.")] = None,
    niche_id: Annotated[UUID | None, typer.Option(help="Only this niche's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    page: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Print returns as JSON lines, newest first (open ones by default; --status '' for all)."""
    with _tx() as tx:
        found = service.list_returns(
            tx,
            status=status or None,
            provider_id=provider_id,
            niche_id=niche_id,
            page=PageRequest(page=page, limit=limit),
        )
    for item in found.items:
        print(
            json.dumps(
                {
                    "id": str(item.id),
                    "status": item.status,
                    "provider": item.provider_name,
                    "niche": item.niche_name,
                    "reason": item.reason,
                    "note": item.note,
                    "price_charged_cents": item.price_charged_cents,
                    "refund_cents": item.refund_cents,
                    "created_at": item.created_at.isoformat(),
                }
            )
        )
    Console(stderr=True).print(f"{len(found.items)} of {found.total}")


@returns_app.command("approve")
def approve(return_id: UUID, operator: Operator = None) -> None:
    """Approve a return: refund the price, mark the assignment returned."""
    with _tx() as tx:
        decision = service.approve_return(tx, actor=_actor(operator), return_id=return_id)
    print(
        json.dumps(
            {
                "id": str(return_id),
                "status": decision.record.status,
                "refund_cents": decision.refund_cents,
                "balance_cents": decision.balance_cents,
            }
        )
    )


@returns_app.command("deny")
def deny(
    return_id: UUID,
    reason: Annotated[str, typer.Option(help="Told to the provider.")],
    operator: Operator = None,
) -> None:
    """Deny a return with a reason; nothing is refunded."""
    with _tx() as tx:
        decision = service.deny_return(
            tx, actor=_actor(operator), return_id=return_id, reason=reason
        )
    print(json.dumps({"id": str(return_id), "status": decision.record.status}))
