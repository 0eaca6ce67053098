"""``leadflow serve``, ``leadflow up [--demo]`` and ``leadflow admin create``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
from collections.abc import Coroutine, Iterator
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console

from leadflow.cli import app
from leadflow.cli.context import database, pool, require_migrated, with_secret_key
from leadflow.db.connection import Reachability, transaction
from leadflow.demo_receiver import DemoReceiver
from leadflow.domain.errors import DomainError
from leadflow.services import webhooks
from leadflow.settings import Settings
from leadflow.webhooks.secret_box import SecretBox

admin_app = typer.Typer(no_args_is_help=True, help="Manage admin users.")
app.add_typer(admin_app, name="admin")

Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]


def uvicorn_config(
    settings: Settings, url: str, host: str, port: int, *, reachability: Reachability | None = None
) -> uvicorn.Config:
    """The API under uvicorn as ``leadflow serve`` runs it; the benchmark runs the same."""
    from leadflow.api import create_app

    app = create_app(settings, url, reachability=reachability)
    # Our middleware logs every request (with its request id); uvicorn's access log would repeat it.
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Run the HTTP API (the database must be migrated)."""
    settings = with_secret_key(Settings())
    with database(settings) as url:
        require_migrated(url)
        uvicorn.Server(uvicorn_config(settings, url, host, port)).run()


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The admin's e-mail (login name).")],
    password: Annotated[
        str | None, typer.Option(help="For scripts; prefer the prompt or --password-stdin.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an admin with TOTP MFA; prints JSON with user_id, mfa_secret and otpauth_uri."""
    from leadflow.services import auth

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = Settings()
    with database(settings) as url:
        require_migrated(url)
        with pool(settings, url, max_size=1) as p, transaction(p) as tx:
            try:
                created = auth.create_admin(
                    tx, passwords=auth.Passwords(), email=email, password=password
                )
            except DomainError as exc:
                Console(stderr=True).print(f"[red]{exc.detail}[/red]")
                raise typer.Exit(1) from exc
    print(
        json.dumps(
            {
                "user_id": str(created.user_id),
                "email": created.email,
                "mfa_secret": created.mfa_secret,
                "otpauth_uri": created.otpauth_uri,
            },
            indent=2,
        )
    )


@app.command("secret-key")
def secret_key() -> None:
    """Print a new LEADFLOW_SECRET_KEY (a Fernet key). To change keys, put the new one first and
    keep the old one after it, comma-separated: secrets are sealed with the first, opened with
    any."""
    from leadflow.webhooks.secret_box import generate_key

    print(generate_key())


@app.command()
def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Seed a demo marketplace and keep demo leads flowing.")
    ] = False,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker jobs at the same time (default: LEADFLOW_WORKER_CONCURRENCY).",
        ),
    ] = None,
) -> None:
    """Everything in one process: PostgreSQL (embedded unless DATABASE_URL), migrations, the API
    and a worker. Ctrl-C stops it gracefully."""
    settings = with_secret_key(Settings())
    if demo and "127.0.0.1" not in settings.webhook_allow_hosts:
        # The demo's receiver listens on 127.0.0.1 over plain http.
        allow = [*settings.webhook_allow_hosts, "127.0.0.1"]
        settings = settings.model_copy(update={"webhook_allow_hosts": allow})
    console = Console()
    # Without a terminal, `up` is under a supervisor or a container: its logs go to a collector.
    with database(settings, migrate_first=True, json_logs_without_tty=True) as url:
        asyncio.run(
            _up(
                settings,
                url,
                host=host,
                port=port,
                concurrency=concurrency,
                demo=demo,
                console=console,
            )
        )
    console.print("leadflow stopped")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``up`` stops the API and the worker together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _up(
    settings: Settings,
    url: str,
    *,
    host: str,
    port: int,
    concurrency: int | None,
    demo: bool,
    console: Console,
) -> None:
    from leadflow.worker import run_worker

    # The API and the worker share one tracker: one warning per outage for the whole process.
    reachability = Reachability()
    server = _Server(uvicorn_config(settings, url, host, port, reachability=reachability))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            server.force_exit = True
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(server.serve(), name="api"),
        asyncio.create_task(
            run_worker(settings, url, concurrency=concurrency, reachability=reachability),
            name="worker",
        ),
    ]
    with contextlib.ExitStack() as resources:
        if demo:
            tasks.append(await _start_demo(settings, url, host, port, resources))
        else:
            console.print(f"leadflow is up: http://{host}:{port}/docs  (Ctrl-C stops)")
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, tasks[0]], return_when=asyncio.FIRST_COMPLETED)
        console.print("stopping: finishing the requests and jobs in hand…")
        server.should_exit = True
        for task in tasks[1:]:
            task.cancel()
        waiter.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                console.print(f"[red]{task.get_name()} stopped with an error: {result!r}[/red]")


async def _start_demo(
    settings: Settings,
    url: str,
    host: str,
    port: int,
    resources: contextlib.ExitStack,
) -> asyncio.Task[None]:
    from leadflow import demo_marketplace
    from leadflow.services import auth

    p = resources.enter_context(pool(settings, url, max_size=2))
    setup = await asyncio.to_thread(demo_marketplace.prepare, p, passwords=auth.Passwords())
    receiver, receiver_url, receiver_task = await _start_demo_receiver()
    assert settings.secret_key is not None
    policy = webhooks.EndpointPolicy(
        allow_hosts=tuple(settings.webhook_allow_hosts),
        box=SecretBox.from_setting(settings.secret_key.get_secret_value()),
    )
    receiver.secrets = await asyncio.to_thread(
        demo_marketplace.connect_receiver, p, setup, policy=policy, url=f"{receiver_url}/hook"
    )
    # Plain print: the credentials must not be wrapped or styled, so they can be copied.
    print(
        f"""
leadflow demo is up
  console:      http://{host}:{port}/console
  admin e-mail: {setup.admin.email}
  password:     {setup.password}
  TOTP secret:  {setup.admin.mfa_secret}
  otpauth URI:  {setup.admin.otpauth_uri}
  a current code: .venv/bin/python -c "import pyotp; print(pyotp.TOTP('{setup.admin.mfa_secret}').now())"

  provider portal: http://{host}:{port}/portal  ({setup.provider_name})
  e-mail:       {setup.provider_email}
  password:     {setup.provider_password}

  API docs:     http://{host}:{port}/docs
  webhooks:     every sale is POSTed, signed, to a demo receiver; what it received:
                {receiver_url}/

A demo lead arrives every few seconds and is approved and distributed. Ctrl-C stops.
""",
        flush=True,
    )
    feeder = demo_marketplace.feed_leads(p, settings, setup)
    return asyncio.create_task(_together(feeder, receiver_task), name="demo-leads")


async def _start_demo_receiver() -> tuple[DemoReceiver, str, asyncio.Task[None]]:
    """The demo's webhook receiver on a free port of 127.0.0.1, serving until cancelled."""
    receiver = DemoReceiver()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        receiver_port = probe.getsockname()[1]
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=receiver_port, log_config=None, access_log=False
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(), name="demo-receiver")
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    return receiver, f"http://127.0.0.1:{receiver_port}", task


async def _together(*awaitables: Coroutine[Any, Any, None] | asyncio.Task[None]) -> None:
    """Run until cancelled; cancelling stops them all."""
    await asyncio.gather(*awaitables)
