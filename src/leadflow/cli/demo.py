"""``leadflow demo``: seed a demo marketplace and push a batch of leads through the real engine."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadflow.cli import app
from leadflow.cli.context import database, pool
from leadflow.db import ledger
from leadflow.db.connection import transaction
from leadflow.domain.model import Actor
from leadflow.domain.money import format_dollars
from leadflow.domain.results import DistributionResult
from leadflow.services import demo as demo_service
from leadflow.services.distribution import distribute_lead
from leadflow.settings import Settings


@app.command()
def demo(
    leads: Annotated[
        int, typer.Option(min=1, max=100_000, help="How many approved leads to distribute.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Random seed for the demo leads.")] = 7,
) -> None:
    """Seed a fresh demo niche, distribute LEADS leads, and show how fairly they were sold."""
    console = Console()
    settings = Settings()
    actor = Actor.admin("demo")
    with database(settings, migrate_first=True) as url, pool(settings, url) as p:
        slug = f"movers-demo-{uuid.uuid4().hex[:6]}"
        with transaction(p) as tx:
            market = demo_service.seed(tx, actor=actor, slug=slug)
            lead_ids = demo_service.add_approved_leads(
                tx, actor=actor, niche_id=market.niche_id, count=leads, rng=random.Random(seed)
            )
        results: list[DistributionResult] = []
        columns = (
            TextColumn("distributing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("leads", total=len(lead_ids))
            for lead_id in lead_ids:
                results.append(distribute_lead(p, lead_id=lead_id, triggered_by=Actor.system()))
                progress.advance(task)
        with p.connection() as conn:
            mismatches = ledger.mismatches(conn)
    _report(console, market, results, slug, mismatches)


def _report(
    console: Console,
    market: demo_service.DemoMarketplace,
    results: list[DistributionResult],
    slug: str,
    mismatches: list[uuid.UUID],
) -> None:
    level_names = list(market.levels.values())
    per_provider: dict[str, Counter[str]] = {
        name: Counter() for name in sorted(market.providers.values())
    }
    for result in results:
        for a in result.assignments:
            per_provider[market.providers[a.provider_id]][
                market.levels[a.competition_level_id]
            ] += 1

    table = Table(title=f"Leads sold per provider and level (niche {slug})")
    table.add_column("provider")
    for name in level_names:
        table.add_column(name, justify="right")
    table.add_column("total", justify="right")
    for provider, counts in per_provider.items():
        table.add_row(provider, *(str(counts[n]) for n in level_names), str(sum(counts.values())))
    console.print(table)

    starts = Counter(r.start_level_order_position for r in results)
    outcomes = Counter(str(r.status) for r in results)
    skips = Counter(str(s.reason) for r in results for s in r.skipped)
    summary = Table(title="Run summary", show_header=False)
    summary.add_row("leads distributed", str(len(results)))
    summary.add_row("outcomes", ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    summary.add_row(
        "start level (rotation)",
        ", ".join(f"{level_names[k - 1]}: {v}" for k, v in sorted(starts.items()) if k),
    )
    summary.add_row(
        "skips by reason", ", ".join(f"{k}: {v}" for k, v in sorted(skips.items())) or "none"
    )
    summary.add_row("sales", str(sum(len(r.assignments) for r in results)))
    summary.add_row(
        "revenue",
        format_dollars(sum(a.price_charged_cents for r in results for a in r.assignments)),
    )
    summary.add_row(
        "ledger check",
        "OK: every balance equals the sum of its ledger entries"
        if not mismatches
        else f"MISMATCH for {len(mismatches)} providers",
    )
    console.print(summary)
    if mismatches:
        raise typer.Exit(code=1)
