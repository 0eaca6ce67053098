"""What every benchmark shares: the server, fresh databases, pgbench, measuring, results (the
data they build is in ``bench.seed``).

Every figure and its reference run on the same PostgreSQL server, in the same run, with the
durable defaults (``fsync`` and ``synchronous_commit`` on). The embedded server lives in
``.leadflow/bench-pg`` so benchmarks never collide with a developer's or the tests' server;
``DATABASE_URL`` (a superuser URL) selects an existing server instead.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import resource
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import conninfo, sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from bench import cpu
from leadflow.db import migrate
from leadflow.db.connection import Connection, connect_kwargs
from leadflow.db.server import embedded_server, postgres_program
from leadflow.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BENCH_PGDATA = ROOT / ".leadflow" / "bench-pg"
# Settings that must hold for a figure to count; others are PostgreSQL's defaults.
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


# ---------------------------------------------------------------- server and databases


@contextlib.contextmanager
def server() -> Iterator[str]:
    """A superuser URL: ``DATABASE_URL`` if set, else the embedded bench server (durable)."""
    watch_load()
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    with embedded_server(BENCH_PGDATA) as uri:
        with psycopg.connect(uri, autocommit=True) as conn:
            for name in DURABLE:
                conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
            conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.2)
        yield uri


def url_for(server_url: str, dbname: str) -> str:
    params = conninfo.conninfo_to_dict(server_url)
    params["dbname"] = dbname
    return conninfo.make_conninfo(**params)  # type: ignore[arg-type]


TEMPLATE = "bench_template"


def fresh_database(server_url: str, name: str, *, migrated: bool = True) -> str:
    """Drop and create ``name``; migrated to head (cloned from a migrated template) unless told
    otherwise. Returns its URL."""
    if migrated:
        _ensure_template(server_url)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if migrated:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(TEMPLATE)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url_for(server_url, name)


def _ensure_template(server_url: str) -> None:
    """Migrate the template once per version of the migrations (a hash kept as its comment)."""
    digest = hashlib.sha256()
    for path in sorted((migrate.MIGRATIONS / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    fingerprint = digest.hexdigest()[:16]
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (TEMPLATE,),
        ).fetchone()
        if row is not None and row[0] == fingerprint:
            return
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    migrate.upgrade(url_for(server_url, TEMPLATE))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(TEMPLATE), sql.Literal(fingerprint)
            )
        )


def bench_settings(url: str, **overrides: Any) -> Settings:
    """Settings as a production process would have them, pointed at ``url``."""
    return Settings(_env_file=None, database_url=url, **overrides)


def open_pool(
    url: str, *, size: int = 2, trace_to: int | None = None
) -> ConnectionPool[Connection]:
    """A pool like ``create_pool``'s; ``trace_to`` (a file descriptor) gets libpq's protocol trace."""
    settings = bench_settings(url)

    def configure(conn: Connection) -> None:
        if trace_to is not None:
            conn.pgconn.trace(trace_to)
            conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    pool: ConnectionPool[Connection] = ConnectionPool(
        url,
        min_size=size,
        max_size=size,
        kwargs={"row_factory": dict_row, **connect_kwargs(settings)},
        connection_class=psycopg.Connection,
        configure=configure,
        open=False,
        name="bench",
    )
    pool.open(wait=True, timeout=30)
    return pool


def server_facts(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        facts: dict[str, Any] = {"postgresql": version[0] if version else None}
        for name in [*DURABLE, "shared_buffers", "wal_level", "max_connections"]:
            row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            facts[name] = row[0] if row else None
    facts["durable"] = all(facts[k] == v for k, v in DURABLE.items())
    return facts


def machine_facts() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "bench"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    mem = None
    with contextlib.suppress(OSError, ValueError):
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit + ("+dirty" if dirty else ""),
    }


# ---------------------------------------------------------------- pgbench


def pgbench_binary() -> str:
    return postgres_program("pgbench")


def _pg_env(url: str) -> dict[str, str]:
    params = conninfo.conninfo_to_dict(url)
    env = dict(os.environ)
    for key, var in [
        ("host", "PGHOST"),
        ("port", "PGPORT"),
        ("user", "PGUSER"),
        ("dbname", "PGDATABASE"),
        ("password", "PGPASSWORD"),
    ]:
        if params.get(key):
            env[var] = str(params[key])
    return env


@dataclass(frozen=True)
class PgbenchResult:
    tps: float
    transactions: int
    latency_ms: float | None
    command: str


def pgbench(url: str, args: Sequence[str]) -> PgbenchResult:
    """Run pgbench against ``url``'s database and parse its throughput."""
    cmd = [pgbench_binary(), *args]
    out = subprocess.run(cmd, env=_pg_env(url), capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed: {out.stderr.strip()[-2000:]}")
    tps = re.search(r"tps = ([0-9.]+) \((?:without|excluding)", out.stdout)
    count = re.search(r"number of transactions actually processed: (\d+)", out.stdout)
    latency = re.search(r"latency average = ([0-9.]+) ms", out.stdout)
    if not tps or not count:
        raise RuntimeError(f"unexpected pgbench output: {out.stdout[-2000:]}")
    # A script file shows by its name only: results carry no machine paths.
    shown = " ".join(Path(a).name if os.path.isabs(a) else a for a in ["pgbench", *args])
    return PgbenchResult(
        float(tps.group(1)),
        int(count.group(1)),
        float(latency.group(1)) if latency else None,
        shown,
    )


def pgbench_database(server_url: str, scale: int) -> str:
    """The ``bench_pgbench`` database, initialised at ``scale`` (kept between runs)."""
    url = url_for(server_url, "bench_pgbench")
    with contextlib.suppress(psycopg.Error), psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pgbench_branches").fetchone()
        if row and row[0] == scale:
            # Same start state every run: history emptied, balances back to 0.
            conn.execute("TRUNCATE pgbench_history")
            conn.execute("UPDATE pgbench_branches SET bbalance = 0")
            conn.execute("UPDATE pgbench_tellers SET tbalance = 0")
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            return url
    fresh_database(server_url, "bench_pgbench", migrated=False)
    out = subprocess.run(
        [pgbench_binary(), "-i", "-q", "-s", str(scale)],
        env=_pg_env(url),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"pgbench -i failed: {out.stderr.strip()[-2000:]}")
    return url


def pgbench_script(body: str) -> str:
    """Write a custom pgbench script to a temporary file and return its path."""
    fd, path = tempfile.mkstemp(prefix="leadflow-bench-", suffix=".sql")
    with os.fdopen(fd, "w") as f:
        f.write(body)
    return path


# ---------------------------------------------------------------- measuring


def peak_rss_bytes() -> int:
    """This process's peak resident set size."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_rss_of(pid: int) -> int | None:
    """Peak RSS (VmHWM) of another process, while it runs."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class TraceCount:
    """Protocol-level counts from a libpq trace: round trips and statements sent."""

    round_trips: int = 0
    statements: int = 0

    @classmethod
    def parse(cls, text: str) -> TraceCount:
        # A round trip is the client waiting for the server: messages from the client (F)
        # followed by an answer (B). Counting ReadyForQuery would miss the pipeline's flushes.
        # Each Execute or simple Query is one statement.
        found = cls()
        previous = ""
        for line in text.splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or parts[0] not in ("B", "F"):
                continue
            if parts[0] == "B" and previous == "F":
                found.round_trips += 1
            elif parts[0] == "F" and parts[2].startswith(("Execute", "Query")):
                found.statements += 1
            previous = parts[0]
        return found


@contextlib.contextmanager
def traced_pool(url: str) -> Iterator[tuple[ConnectionPool[Connection], Any]]:
    """A one-connection pool whose protocol trace can be read back with ``read()``."""
    fd, path = tempfile.mkstemp(prefix="leadflow-trace-")
    pool = open_pool(url, size=1, trace_to=fd)
    offset = 0

    def read() -> TraceCount:
        nonlocal offset
        data = Path(path).read_text(errors="replace")
        chunk, offset = data[offset:], len(data)
        return TraceCount.parse(chunk)

    try:
        read()  # skip the connection's own setup
        yield pool, read
    finally:
        pool.close()
        os.close(fd)
        os.unlink(path)


# ---------------------------------------------------------------- processes


def wait_for_worker(url: str, worker: subprocess.Popen[Any]) -> None:
    """Until the worker has registered itself (it then listens for jobs)."""
    deadline = time.monotonic() + 60
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise RuntimeError("the worker exited at start")
            row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
            if row and row[0]:
                time.sleep(0.5)
                return
            time.sleep(0.1)
    raise RuntimeError("the worker did not start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[Any], what: str) -> None:
    """Until ``process`` (``what``, for the error) accepts connections on ``port``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not start listening")


def stop(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it does not end in ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------- results


@dataclass
class Row:
    """One line of the summary table."""

    id: str
    workload: str
    figure: float | None
    unit: str
    reference: float | None
    reference_unit: str
    ratio: float | None
    target: str
    met: bool | None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def compare(
        cls,
        id: str,
        workload: str,
        figure: float | None,
        unit: str,
        reference: float | None,
        reference_unit: str,
        *,
        at_least: float | None = None,
        at_most: float | None = None,
        valid: bool = True,
        note: str = "",
        extra: dict[str, Any] | None = None,
    ) -> Row:
        """A row whose ratio is figure ÷ reference, met when it is ``at_least`` (or ``at_most``)
        that and the run was ``valid``; with neither bound, the ratio is reported only."""
        ratio = figure / reference if figure is not None and reference else None
        if at_least is not None:
            target, met = f"≥ {at_least}", ratio is not None and ratio >= at_least and valid
        elif at_most is not None:
            target, met = f"≤ {at_most}", ratio is not None and ratio <= at_most and valid
        else:
            target, met = "report", None
        return cls(
            id,
            workload,
            figure,
            unit,
            reference,
            reference_unit,
            ratio,
            target,
            met,
            note=note,
            extra=extra or {},
        )


_load_since = cpu.Snapshot.take()


def watch_load() -> None:
    """Start counting the machine's load for the next result (each benchmark starts one)."""
    global _load_since
    _load_since = cpu.Snapshot.take()


def machine_load() -> dict[str, Any]:
    """The machine's load since ``watch_load``: load averages at both ends, busy and steal."""
    return cpu.load_between(_load_since, cpu.Snapshot.take())


def write_result(name: str, data: dict[str, Any]) -> Path:
    """``<name>-<UTC time>.json`` and ``<name>-latest.json``, with the machine's load."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {"benchmark": name, "at": stamp, "load": machine_load(), **data}
    path = RESULTS / f"{name}-{stamp}.json"
    text = json.dumps(payload, indent=2, default=str)
    path.write_text(text + "\n")
    (RESULTS / f"{name}-latest.json").write_text(text + "\n")
    return path


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if 0 < abs(value) < 10**-digits:
        return f"{value:.2g}"  # a small ratio keeps its figures instead of reading 0.00
    return f"{value:.{digits}f}"


def table(rows: Sequence[Row]) -> str:
    """A Markdown table of the rows (also readable in a terminal)."""
    head = "| id | workload | figure | reference (same run) | ratio | target | met |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        met = "—" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(
            f"| {r.id} | {r.workload} | {fmt(r.figure)} {r.unit} | {fmt(r.reference)} {r.reference_unit} "
            f"| {fmt(r.ratio, 2)} | {r.target} | {met} |"
        )
    notes = [f"- {r.id}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + (["", *notes] if notes else []))


def row_dict(row: Row) -> dict[str, Any]:
    return {
        "id": row.id,
        "workload": row.workload,
        "figure": row.figure,
        "unit": row.unit,
        "reference": row.reference,
        "reference_unit": row.reference_unit,
        "ratio": row.ratio,
        "target": row.target,
        "met": row.met,
        "note": row.note,
        **row.extra,
    }


def write_row(name: str, row: Row, *, quick: bool, url: str | None, **data: Any) -> Row:
    """The result file of one benchmark: its row, the server's and the machine's facts."""
    common: dict[str, Any] = {"quick": quick, "row": row_dict(row)}
    if url is not None:
        common["server"] = server_facts(url)
    write_result(name, {**common, **data, "machine": machine_facts()})
    return row


def cli(run: Callable[..., Row], doc: str | None, quick_help: str = "short run") -> None:
    """A benchmark module's ``main``: ``--quick``, the server, the row printed as a table."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args()
    with server() as url:
        print(table([run(url, quick=args.quick)]))
