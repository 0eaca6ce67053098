"""HTTP load from a process of its own: ``wrk`` with a Lua script where it is installed (Debian:
``apt-get install wrk``), else ``bench.loadgen`` (one Python asyncio process, which saturates
its own core long before most servers: the result names the tool, so a reader knows).

Both report the same fields: requests, requests/s, p50/p99 in ms, the count of each status
(where counted), and the generator's own CPU time (its process, from ``getrusage`` of the
children this process waited for), so that a result shows whether the generator or the
server was the bound.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common

SEQ = "__SEQ__"
# Each wrk thread numbers its requests from ``seq_start + thread * SEQ_STRIDE``.
SEQ_STRIDE = 500_000
WRK_THREADS = 2
# Where the Lua ``done`` callback writes its figures among wrk's own output.
_MARK = "LEADFLOW-WRK "


def wrk_path() -> str | None:
    return shutil.which("wrk")


@dataclass(frozen=True)
class Load:
    """``path`` on 127.0.0.1:``port`` for ``seconds`` over ``connections`` keep-alive
    connections. With ``seq_start``, each ``__SEQ__`` in the body becomes a number unique to
    the request. ``count_statuses`` (wrk only) counts each response's status in Lua, which
    costs wrk a little per response; without it only non-2xx responses are counted."""

    port: int
    method: str
    path: str
    seconds: float
    connections: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    seq_start: int | None = None
    count_statuses: bool = True


def drive(load: Load) -> dict[str, Any]:
    """Run ``load`` with wrk (else bench.loadgen); its figures and the generator's CPU."""
    wrk = wrk_path()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    result = _wrk(wrk, load) if wrk else _loadgen(load)
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["generator_cpu_s"] = round(used, 3)
    # In cores: 1.0 is one core busy the whole run (wrk has WRK_THREADS threads).
    result["generator_cpu_share"] = used / elapsed if elapsed else 0.0
    return result


def _loadgen(load: Load) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            "127.0.0.1",
            str(load.port),
            load.method,
            load.path,
            str(load.seconds),
            str(load.connections),
            load.body.decode(),
            *([] if load.seq_start is None else [str(load.seq_start)]),
        ],
        cwd=common.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    result["tool"] = "bench.loadgen (wrk not found)"
    return result


def _lua(load: Load, body_path: Path | None) -> str:
    """The wrk script: the request (numbered per thread when ``seq_start`` is given), the
    statuses counted per thread, and the figures written as one JSON line at the end."""
    lines = [
        f'wrk.method = "{load.method}"',
        'wrk.headers["Content-Type"] = "application/json"',
        *(f'wrk.headers["{k}"] = "{v}"' for k, v in load.headers.items()),
        "local threads = {}",
        "function setup(thread)",
        "  thread:set('id', #threads)",
        "  table.insert(threads, thread)",
        "end",
    ]
    if body_path is not None:
        lines += [f'local f = io.open("{body_path}", "rb")', "wrk.body = f:read('*a')", "f:close()"]
    lines += ["function init(args)", "  statuses = {}"]
    if load.seq_start is not None:
        lines += [f"  seq = {load.seq_start} + id * {SEQ_STRIDE}"]
    lines += ["end"]
    if load.seq_start is not None:
        lines += [
            "function request()",
            f'  local b = wrk.body:gsub("{SEQ}", tostring(seq))',
            "  seq = seq + 1",
            "  return wrk.format(nil, nil, nil, b)",
            "end",
        ]
    if load.count_statuses:
        lines += [
            "function response(status, headers, body)",
            "  statuses[status] = (statuses[status] or 0) + 1",
            "end",
        ]
    lines += [
        "function done(summary, latency, requests)",
        "  local counts = {}",
        "  for _, t in ipairs(threads) do",
        "    for status, n in pairs(t:get('statuses') or {}) do",
        "      counts[status] = (counts[status] or 0) + n",
        "    end",
        "  end",
        "  local parts = {}",
        "  for status, n in pairs(counts) do",
        "    table.insert(parts, string.format('\"%d\": %d', status, n))",
        "  end",
        "  local e = summary.errors",
        f'  io.write(string.format("{_MARK}' + '{\\"requests\\": %d, \\"duration_us\\": %d, '
        '\\"p50_us\\": %d, \\"p99_us\\": %d, \\"non_2xx\\": %d, \\"socket_errors\\": %d, '
        '\\"statuses\\": {%s}}\\n", summary.requests, summary.duration, '
        "latency:percentile(50), latency:percentile(99), e.status, "
        "e.connect + e.read + e.write + e.timeout, table.concat(parts, ', ')))",
        "end",
    ]
    return "\n".join(lines) + "\n"


def _wrk(wrk: str, load: Load) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="leadflow-wrk-") as tmp:
        body_path = None
        if load.body:
            body_path = Path(tmp) / "body.json"
            body_path.write_bytes(load.body)
        script = Path(tmp) / "script.lua"
        script.write_text(_lua(load, body_path))
        out = subprocess.run(
            [
                wrk,
                f"-t{WRK_THREADS}",
                f"-c{load.connections}",
                f"-d{max(1, round(load.seconds))}s",
                "-s",
                str(script),
                f"http://127.0.0.1:{load.port}{load.path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    line = next((x for x in out.splitlines() if x.startswith(_MARK)), None)
    if line is None:
        raise RuntimeError(f"unexpected wrk output: {out[-2000:]}")
    found = json.loads(line[len(_MARK) :])
    elapsed = found["duration_us"] / 1e6
    return {
        "tool": f"wrk -t{WRK_THREADS}",
        "requests": found["requests"],
        "elapsed_s": elapsed,
        "requests_per_s": found["requests"] / elapsed if elapsed else 0.0,
        "p50_ms": found["p50_us"] / 1000,
        "p99_ms": found["p99_us"] / 1000,
        "non_2xx": found["non_2xx"],
        "socket_errors": found["socket_errors"],
        "statuses": {str(k): v for k, v in found["statuses"].items()},
    }
