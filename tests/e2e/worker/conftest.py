"""Real worker processes (``leadflow worker``), a real SMTP server (aiosmtpd), real PostgreSQL."""

from __future__ import annotations

import email
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support.keys import PROCESS_ENV

LEADFLOW = str(Path(sys.executable).parent / "leadflow")
WAIT_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    """Poll ``check`` until it returns something truthy; the timeout only bounds a failure."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def sample(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


class Inbox:
    """What the SMTP server accepted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self._messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)


@dataclass
class SmtpServer:
    port: int
    inbox: Inbox = field(default_factory=Inbox)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


class WorkerProcess:
    def __init__(self, args: list[str], env: dict[str, str], log: Path, metrics_port: int | None):
        self.log = log
        self.metrics_port = metrics_port
        self._file = log.open("ab")
        self.proc = subprocess.Popen(args, env=env, stdout=self._file, stderr=subprocess.STDOUT)

    def metrics(self) -> str:
        assert self.metrics_port is not None
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def terminate(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._file.close()

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._file.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self._file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def workers(db_url: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``leadflow worker`` processes on the test database; all are stopped at the end."""
    started: list[WorkerProcess] = []

    def start(
        *,
        database_url: str | None = None,
        smtp_url: str | None = None,
        retry_delays: str = "1,1,1,1,1",
        concurrency: int = 2,
        metrics: bool = False,
        **env_extra: str,
    ) -> WorkerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
        env.update(
            DATABASE_URL=database_url or db_url,
            LEADFLOW_RETRY_DELAYS=retry_delays,
            LEADFLOW_HOME=str(tmp_path / "home"),
        )
        env.update(PROCESS_ENV)
        env.update(env_extra)
        if smtp_url:
            env["LEADFLOW_SMTP_URL"] = smtp_url
        port = free_port() if metrics else None
        args = [LEADFLOW, "worker", "--concurrency", str(concurrency)]
        if port is not None:
            args += ["--metrics-port", str(port)]
        worker = WorkerProcess(args, env, tmp_path / f"worker-{len(started)}.log", port)
        started.append(worker)
        if port is not None:
            wait_until("the worker's metrics endpoint", lambda: _answers(worker))
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.terminate()
    for worker in started:
        sys.stderr.write(f"--- {worker.log.name} ---\n{worker.output()[-4000:]}\n")


def _answers(worker: WorkerProcess) -> bool:
    if worker.proc.poll() is not None:
        raise AssertionError(f"worker exited early:\n{worker.output()}")
    try:
        worker.metrics()
    except OSError:
        return False
    return True
