"""A command started while the database does not answer waits for it, then gives up clearly."""

from __future__ import annotations

import socket
import time

import pytest
import typer

from leadflow.cli.context import require_migrated


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_database_is_waited_for_then_the_command_exits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/nothing?connect_timeout=1"
    started = time.monotonic()
    with pytest.raises(typer.Exit) as exited:
        require_migrated(url, wait_seconds=2.0)
    waited = time.monotonic() - started
    assert exited.value.exit_code == 1
    assert waited >= 2.0
    assert "does not answer" in capsys.readouterr().err


def test_a_migrated_database_passes_at_once(db_url: str) -> None:
    require_migrated(db_url, wait_seconds=0)
