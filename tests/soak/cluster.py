"""What the soak runs: PostgreSQL it can restart, the API, the workers and an SMTP sink.

Every process is a real ``leadflow`` command on loopback addresses; each writes its log into
the run's folder.
"""

from __future__ import annotations

import contextlib
import email
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from aiosmtpd.controller import Controller
from psycopg import conninfo, sql

from tests.support.keys import PROCESS_ENV

LEADFLOW = str(Path(sys.executable).parent / "leadflow")
DATABASE = "leadflow_soak"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def url_for(server_url: str, dbname: str) -> str:
    params = conninfo.conninfo_to_dict(server_url)
    params["dbname"] = dbname
    return conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def answers(url: str) -> bool:
    """Whether the server accepts a connection and a query now."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


# ---------------------------------------------------------------- PostgreSQL


class Postgres:
    """The embedded server under ``data_dir`` (restartable), or ``DATABASE_URL`` (not)."""

    def __init__(self, data_dir: Path, external_url: str | None) -> None:
        self._data_dir = data_dir
        self._external_url = external_url
        self._server: Any = None
        self.server_url = ""

    @property
    def restartable(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._external_url:
            self.server_url = self._external_url
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver import get_server  # type: ignore[attr-defined]
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self._data_dir.resolve(), cleanup_mode="stop")
        self.server_url = str(self._server.get_uri())

    def stop_server(self) -> None:
        if self._server is None:
            return
        # pgserver only stops the postmaster it started itself, not one started after a restart.
        with contextlib.suppress(subprocess.CalledProcessError):
            self.shut_down("fast")
        self._server.cleanup()

    def fresh_database(self) -> str:
        """Drop and create the soak's database; returns its URL (not migrated)."""
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        return url_for(self.server_url, DATABASE)

    def shut_down(self, mode: str) -> None:
        """``pg_ctl stop -m mode``: ``fast`` (clean) or ``immediate`` (crash, recovery at start)."""
        from pgserver import _commands

        _commands.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "-m", mode, "stop"], pgdata=self._server.pgdata, user=self._server.system_user
        )

    def start_again(self) -> None:
        """Start the stopped server with the options pgserver started it with."""
        from pgserver import _commands

        info = self._server.get_postmaster_info()
        _commands.pg_ctl(  # type: ignore[attr-defined]
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {info.socket_dir}",
                "-l",
                str(self._server.log),
                "start",
            ],
            pgdata=self._server.pgdata,
            user=self._server.system_user,
            timeout=120,
        )


# ---------------------------------------------------------------- SMTP sink


@dataclass(frozen=True, slots=True)
class Received:
    message_id: str
    subject: str
    at: float


class Inbox:
    """What the SMTP sink accepted, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        with self._lock:
            self._received.append(
                Received(
                    str(message.get("Message-ID", "")), str(message.get("Subject", "")), time.time()
                )
            )
        return "250 OK"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[str, Inbox]]:
    """A real SMTP server (aiosmtpd) on loopback; yields its URL and inbox."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", inbox
    finally:
        controller.stop()


# ---------------------------------------------------------------- processes


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a leadflow process: the soak's database, nothing from the caller's
    ``LEADFLOW_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env["DATABASE_URL"] = database_url
    env.update(PROCESS_ENV)
    env.update(extra)
    return env


def run_command(args: list[str], env: dict[str, str], *, timeout: float = 120) -> str:
    """Run a ``leadflow`` command to its end; its stdout, or an error with its output."""
    done = subprocess.run(
        [LEADFLOW, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"leadflow {args[0]} failed: {done.stderr[-2000:]}")
    return done.stdout


def create_admin(env: dict[str, str], email_address: str, password: str) -> str:
    """``leadflow admin create``; returns the TOTP secret it prints."""
    out = run_command(["admin", "create", "--email", email_address, "--password", password], env)
    secret: str = json.loads(out)["mfa_secret"]
    return secret


@dataclass
class Process:
    """One long-running ``leadflow`` process with its log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _file: Any = field(default=None, repr=False)

    def start(self) -> None:
        self._file = self.log.open("ab")
        self._file.write(f"--- start {self.starts + 1} at {time.time():.3f}\n".encode())
        self._file.flush()
        self.proc = subprocess.Popen(
            [LEADFLOW, *self.args],
            env=self.env,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, like a machine loss or the OOM killer."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._close()

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL if it does not finish in ``timeout`` seconds."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._close()
        return self.proc.returncode

    def reaped(self) -> None:
        """After it exited by itself: close its log."""
        self._close()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def wait_for(what: str, check: Any, timeout: float) -> None:
    """Poll ``check`` every 0.2 s until true; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.2)
