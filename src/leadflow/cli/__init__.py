"""The ``leadflow`` command line: one Typer app, commands defined in the modules beside this one."""

from __future__ import annotations

import typer

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="leadflow: fair, atomic lead distribution."
)


@app.callback()
def _root() -> None:
    """leadflow: fair, atomic lead distribution."""


def main() -> None:
    """Entry point of the ``leadflow`` script."""
    # Importing the command modules registers their commands on ``app``.
    from leadflow.cli import database, demo, leads, returns, serve, worker  # noqa: F401

    app()
