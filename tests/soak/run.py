"""One soak run: start everything, drive traffic while injecting faults, drain, collect.

The admin side (approvals, deposits) goes through the API like an operator's script would;
the intake comes from the load generator's own process. Every HTTP answer is recorded with
its wall-clock interval so the checks can tell whether it fell inside an outage window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pyotp
from psycopg.rows import dict_row

from leadflow.db import jobs
from tests.soak import cluster, plan
from tests.support.receiver import Receiver

ADMIN_EMAIL = "soak-admin@example.com"
ADMIN_PASSWORD = "soak admin password 1"
REQUEST_TIMEOUT = 10.0
APPROVE_EVERY = 0.5
DEPOSIT_EVERY = 1.5
# A repeated key must answer with the first entry and credit nothing: every Nth deposit is sent twice.
REPEAT_EVERY = 8
SUPERVISE_EVERY = 1.0
POLL_EVERY = 0.5


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP exchange: wall-clock send and answer times, status (0 = no answer)."""

    sent: float
    answered: float
    status: int
    what: str
    retry_after: str | None = None


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    at: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Outage:
    """From the stop command to the server answering again, plus the grace."""

    kind: str
    began: float
    answered: float
    grace: float

    @property
    def ends(self) -> float:
        return self.answered + self.grace

    def covers(self, sent: float, answered: float) -> bool:
        return sent <= self.ends and answered >= self.began


@dataclass(frozen=True, slots=True)
class Options:
    minutes: float
    rate: float
    workers: int
    concurrency: int
    kill_every: float
    down_seconds: float
    grace: float
    drain_timeout: float
    seed: int
    run_dir: Path


@dataclass
class Collected:
    """Everything the run saw, for the checks."""

    options: Options
    database_url: str = ""
    intake: list[dict[str, Any]] = field(default_factory=list)
    admin: list[Answer] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    unplanned_exits: list[str] = field(default_factory=list)
    approvals: dict[str, list[int]] = field(default_factory=dict)  # lead id -> statuses
    deposits_accepted: dict[str, int] = field(default_factory=dict)  # key -> amount
    deposits_unconfirmed: dict[str, plan.Deposit] = field(default_factory=dict)
    deposits_5xx: set[str] = field(default_factory=set)
    deposits_5xx_credited: list[str] = field(default_factory=list)
    repeats: list[tuple[str, bool]] = field(default_factory=list)  # key, same entry
    restarts_possible: bool = True
    drained: bool = False
    drain_seconds: float = 0.0
    load_seconds: float = 0.0
    received: list[cluster.Received] = field(default_factory=list)
    # The buyers' webhook receiver: each provider's path, and what arrived.
    hook_paths: dict[str, str] = field(default_factory=dict)  # provider id -> path
    hooks_received: list[tuple[str, str, bool]] = field(default_factory=list)  # path, id, valid


class Admin:
    """The operator: an admin logged in with TOTP, every answer recorded."""

    def __init__(self, client: httpx.AsyncClient, answers: list[Answer]) -> None:
        self._client = client
        self._answers = answers
        self._headers: dict[str, str] = {}

    async def request(
        self, method: str, path: str, what: str, body: Any = None, **params: Any
    ) -> httpx.Response | None:
        sent = time.time()
        try:
            response = await self._client.request(
                method, f"/api/v1{path}", json=body, params=params or None, headers=self._headers
            )
        except httpx.HTTPError:
            self._answers.append(Answer(sent, time.time(), 0, what))
            return None
        self._answers.append(
            Answer(
                sent,
                time.time(),
                response.status_code,
                what,
                response.headers.get("Retry-After"),
            )
        )
        return response

    async def must(self, method: str, path: str, body: Any = None, expect: int = 201) -> Any:
        response = await self.request(method, path, "setup", body)
        if response is None or response.status_code != expect:
            text = "no answer" if response is None else f"{response.status_code} {response.text}"
            raise RuntimeError(f"{method} {path}: {text}")
        return response.json()

    async def log_in(self, secret: str) -> None:
        first = await self.must(
            "POST", "/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, 200
        )
        token = await self.must(
            "POST",
            "/auth/mfa",
            {"mfa_token": first["mfa_token"], "code": pyotp.TOTP(secret).now()},
            200,
        )
        self._headers = {"Authorization": f"Bearer {token['access_token']}"}


async def build_marketplace(admin: Admin, hooks: Receiver, hook_paths: dict[str, str]) -> list[str]:
    """The plan's niches, levels, providers (with a first deposit, subscriptions and a webhook
    endpoint on ``hooks``; every third answers 500 once, then 200); returns provider ids in
    plan order."""
    levels: dict[tuple[str, str], str] = {}
    for niche in plan.NICHES:
        created = await admin.must(
            "POST",
            "/admin/niches",
            {"slug": niche.slug, "name": niche.slug.title(), "distribution_mode": niche.mode},
        )
        for position, level in enumerate(niche.levels, start=1):
            made = await admin.must(
                "POST",
                f"/admin/niches/{created['id']}/levels",
                {
                    "name": level.name,
                    "order_position": position,
                    "max_recipients": level.max_recipients,
                    "price_per_lead_cents": level.price_cents,
                },
            )
            levels[(niche.slug, level.name)] = made["id"]
    ids = []
    for n, provider in enumerate(plan.PROVIDERS):
        made = await admin.must(
            "POST",
            "/admin/providers",
            {"name": provider.name, "email": f"provider{n}@example.com"},
        )
        await admin.must(
            "POST",
            f"/admin/providers/{made['id']}/deposits",
            {"amount_cents": plan.START_BALANCE_CENTS, "idempotency_key": f"soak-start-{n}"},
        )
        for slug, level_name in provider.subscriptions:
            await admin.must(
                "POST",
                "/admin/subscriptions",
                {
                    "provider_id": made["id"],
                    "competition_level_id": levels[(slug, level_name)],
                    "postal_codes": list(provider.postal_codes),
                },
            )
        path = f"provider{n}"
        endpoint = await admin.must(
            "POST", f"/admin/providers/{made['id']}/endpoints", {"url": hooks.url(path)}
        )
        hooks.secret(path, endpoint["secret"])
        if n % 3 == 0:
            hooks.respond(path, "error", "ok")
        hook_paths[made["id"]] = path
        ids.append(made["id"])
    return ids


class Soak:
    def __init__(self, options: Options, postgres: cluster.Postgres) -> None:
        self.options = options
        self.postgres = postgres
        self.rng = random.Random(options.seed)
        self.collected = Collected(options=options)
        self.api: cluster.Process | None = None
        self.workers: list[cluster.Process] = []
        self._killing: set[int] = set()
        self._began = 0.0

    # ------------------------------------------------------------ start and stop

    @contextlib.contextmanager
    def processes(self, url: str, smtp_url: str) -> Iterator[int]:
        """The API and the workers, stopped at the end whatever happens; yields the API port."""
        run_dir = self.options.run_dir
        port = cluster.free_port()
        self.api = cluster.Process(
            "api",
            ["serve", "--port", str(port)],
            cluster.base_env(url, LEADFLOW_INTAKE_RATE_LIMIT="0", LEADFLOW_AUTO_DISTRIBUTE="true"),
            run_dir / "api.log",
        )
        worker_env = cluster.base_env(
            url,
            LEADFLOW_SMTP_URL=smtp_url,
            # Short retries and webhook leases, so the drain after the last outage and the
            # last kill is quick.
            LEADFLOW_RETRY_DELAYS="1,2,4,8,16",
            LEADFLOW_WEBHOOK_LEASE_SECONDS="15",
        )
        self.workers = [
            cluster.Process(
                f"worker-{n}",
                ["worker", "--concurrency", str(self.options.concurrency)],
                worker_env,
                run_dir / f"worker-{n}.log",
            )
            for n in range(self.options.workers)
        ]
        try:
            self.api.start()
            for worker in self.workers:
                worker.start()
            cluster.wait_for(
                "the API", lambda: cluster.http_ok(f"http://127.0.0.1:{port}/readyz"), 60
            )
            yield port
        finally:
            for process in [*self.workers, self.api]:
                process.stop()

    def run(self) -> Collected:
        collected = self.collected
        self.postgres.start()
        collected.restarts_possible = self.postgres.restartable
        url = self.postgres.fresh_database()
        collected.database_url = url
        env = cluster.base_env(url)
        cluster.run_command(["migrate"], env)
        secret = cluster.create_admin(env, ADMIN_EMAIL, ADMIN_PASSWORD)
        with (
            cluster.smtp_sink() as (smtp_url, inbox),
            Receiver() as hooks,
            self.processes(url, smtp_url) as port,
        ):
            asyncio.run(self._drive(port, secret, url, hooks))
            collected.received = inbox.received
            collected.hooks_received = [
                (path, r.headers.get("leadflow-delivery", ""), bool(r.signature_valid))
                for path in collected.hook_paths.values()
                for r in hooks.received(path)
            ]
        return collected

    # ------------------------------------------------------------ the run

    async def _drive(self, port: int, secret: str, url: str, hooks: Receiver) -> None:
        options = self.options
        seconds = options.minutes * 60
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT
        ) as client:
            admin = Admin(client, self.collected.admin)
            await admin.log_in(secret)
            providers = await build_marketplace(admin, hooks, self.collected.hook_paths)
            intake_file = options.run_dir / "intake.jsonl"
            intake_file.unlink(missing_ok=True)
            loadgen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.soak.loadgen",
                    "--port",
                    str(port),
                    "--rate",
                    str(options.rate),
                    "--seconds",
                    str(seconds),
                    "--out",
                    str(intake_file),
                ],
                stdin=subprocess.DEVNULL,
            )
            self._began = time.monotonic()
            stop = asyncio.Event()
            # Watches the processes through the drain too, so it stops last.
            done = asyncio.Event()
            supervisor = asyncio.create_task(self._supervise(done))
            traffic = [
                asyncio.create_task(self._approve(admin, stop)),
                asyncio.create_task(self._deposit(admin, providers, stop)),
            ]
            try:
                await self._faults(seconds)
                await asyncio.to_thread(loadgen.wait, seconds + 120)
                self.collected.load_seconds = time.monotonic() - self._began
                stop.set()
                await asyncio.gather(*traffic)
                await self._finish_admin(admin, providers)
                await self._drain(url)
            finally:
                stop.set()
                done.set()
                if loadgen.poll() is None:
                    loadgen.kill()
                    loadgen.wait()
                await supervisor
            self.collected.intake = [
                json.loads(line) for line in intake_file.read_text().splitlines() if line
            ]

    def _elapsed(self) -> float:
        return time.monotonic() - self._began

    async def _approve(self, admin: Admin, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._approve_pending(admin)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), APPROVE_EVERY)

    async def _approve_pending(self, admin: Admin) -> int:
        """Approve every lead pending approval (first page); how many were pending."""
        listing = await admin.request(
            "GET", "/admin/leads", "list", status="pending_approval", limit=200
        )
        if listing is None or listing.status_code != 200:
            return -1
        items = listing.json()["items"]
        for item in items:
            response = await admin.request("POST", f"/admin/leads/{item['id']}/approve", "approve")
            status = 0 if response is None else response.status_code
            self.collected.approvals.setdefault(item["id"], []).append(status)
        return len(items)

    async def _deposit(self, admin: Admin, providers: list[str], stop: asyncio.Event) -> None:
        stream = plan.deposits(self.rng)
        n = 0
        while not stop.is_set():
            await self._retry_unconfirmed(admin, providers)
            deposit = next(stream)
            accepted = await self._send_deposit(admin, providers, deposit)
            n += 1
            if accepted is not None and n % REPEAT_EVERY == 0:
                again = await self._send_deposit(admin, providers, deposit, repeat=True)
                if again is not None:
                    self.collected.repeats.append((deposit.key, again == accepted))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), DEPOSIT_EVERY)

    async def _send_deposit(
        self, admin: Admin, providers: list[str], deposit: plan.Deposit, *, repeat: bool = False
    ) -> str | None:
        """Post one deposit; its ledger entry id once accepted, None if not (yet)."""
        response = await admin.request(
            "POST",
            f"/admin/providers/{providers[deposit.provider]}/deposits",
            "deposit",
            {"amount_cents": deposit.amount_cents, "idempotency_key": deposit.key},
        )
        unconfirmed = self.collected.deposits_unconfirmed
        if response is None or response.status_code >= 500:
            # Perhaps committed, perhaps not: only the same key again can tell.
            unconfirmed[deposit.key] = deposit
            if response is not None:
                self.collected.deposits_5xx.add(deposit.key)
            return None
        if response.status_code not in (200, 201):
            raise RuntimeError(f"deposit refused: {response.status_code} {response.text}")
        if (
            response.status_code == 200
            and not repeat
            and deposit.key in self.collected.deposits_5xx
        ):
            # The key's first success is a replay: the request answered 5xx had credited it.
            self.collected.deposits_5xx_credited.append(deposit.key)
        unconfirmed.pop(deposit.key, None)
        if not repeat:
            self.collected.deposits_accepted[deposit.key] = deposit.amount_cents
        # A repeat must answer with the first entry (the balance may have moved since).
        return str(response.json()["ledger_entry_id"])

    async def _retry_unconfirmed(self, admin: Admin, providers: list[str]) -> None:
        for deposit in list(self.collected.deposits_unconfirmed.values()):
            await self._send_deposit(admin, providers, deposit)

    async def _finish_admin(self, admin: Admin, providers: list[str]) -> None:
        """After the load: approve what is left, settle every unconfirmed deposit (bounded)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            await self._retry_unconfirmed(admin, providers)
            pending = await self._approve_pending(admin)
            if pending == 0 and not self.collected.deposits_unconfirmed:
                return
            await asyncio.sleep(POLL_EVERY)

    # ------------------------------------------------------------ faults

    def _schedule(self, seconds: float) -> list[tuple[float, str]]:
        events: list[tuple[float, str]] = []
        t = self.options.kill_every
        while t < seconds - 5:
            events.append((t + self.rng.uniform(-4, 4), "kill"))
            t += self.options.kill_every
        if self.postgres.restartable:
            events.append((seconds * 0.33, "fast"))
            events.append((seconds * 0.66, "immediate"))
        return sorted(events)

    async def _faults(self, seconds: float) -> None:
        for at, kind in self._schedule(seconds):
            delay = at - self._elapsed()
            if delay > 0:
                await asyncio.sleep(delay)
            if kind == "kill":
                await asyncio.to_thread(self._kill_a_worker)
            else:
                await asyncio.to_thread(self._restart_postgres, kind)

    def _kill_a_worker(self) -> None:
        running = [n for n, w in enumerate(self.workers) if w.running]
        if not running:
            return
        n = self.rng.choice(running)
        self._killing.add(n)
        try:
            self.workers[n].kill()
            self.collected.faults.append(Fault("worker SIGKILL", time.time(), f"worker-{n}"))
            self.workers[n].start()
        finally:
            self._killing.discard(n)

    def _restart_postgres(self, mode: str) -> None:
        began = time.time()
        self.postgres.shut_down(mode)
        self.collected.faults.append(Fault(f"PostgreSQL stop -m {mode}", began))
        time.sleep(self.options.down_seconds)
        self.postgres.start_again()
        cluster.wait_for(
            "PostgreSQL to answer", lambda: cluster.answers(self.collected.database_url), 120
        )
        self.collected.outages.append(Outage(f"-m {mode}", began, time.time(), self.options.grace))

    async def _supervise(self, stop: asyncio.Event) -> None:
        """Restart a process that exited by itself (as systemd would), and note it."""
        while not stop.is_set():
            for n, process in enumerate([*self.workers, self.api]):
                if process is None or n in self._killing or process.running:
                    continue
                code = process.exit_code()
                process.reaped()
                self.collected.unplanned_exits.append(
                    f"{process.name} exited with {code} at +{self._elapsed():.0f} s"
                )
                process.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SUPERVISE_EVERY)

    # ------------------------------------------------------------ drain

    async def _drain(self, url: str) -> None:
        """Wait until no job is queued or running and no event, mail or webhook delivery is
        pending (bounded)."""
        began = time.monotonic()
        deadline = began + self.options.drain_timeout
        while time.monotonic() < deadline:
            if await asyncio.to_thread(_settled, url):
                self.collected.drained = True
                break
            await asyncio.sleep(POLL_EVERY)
        self.collected.drain_seconds = time.monotonic() - began


def _settled(url: str) -> bool:
    try:
        with psycopg.connect(url, row_factory=dict_row, connect_timeout=5) as conn:
            row = conn.execute(
                """
                SELECT
                  (SELECT count(*) FROM procrastinate_jobs
                   WHERE queue_name <> %s AND status IN ('todo', 'doing')) AS open_jobs,
                  (SELECT count(*) FROM email_outbox WHERE status = 'pending')
                  + (SELECT count(*) FROM outbox_events WHERE status = 'pending')
                  + (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')
                  AS pending_mails,
                  (SELECT count(*) FROM leads WHERE status = 'pending_approval') AS unapproved
                """,
                (jobs.MAINTENANCE_QUEUE,),
            ).fetchone()
    except psycopg.Error:
        return False
    assert row is not None
    return bool(row["open_jobs"] == 0 and row["pending_mails"] == 0 and row["unapproved"] == 0)
