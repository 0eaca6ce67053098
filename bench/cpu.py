"""CPU time from ``/proc``: of one process, of the PostgreSQL server's process tree, and the
machine's load (load average, busy and steal shares) over a run.

CPU seconds are stable where wall-clock rates are not: on a shared machine another session's
load slows a benchmark down, but the work each lead costs stays the same.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces: the fields that follow start after its ")".
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_seconds(pid: int) -> float:
    """utime + stime of ``pid``, with the children it has waited for (cutime, cstime)."""
    fields = _stat_fields(pid)
    return sum(int(f) for f in fields[11:15]) / TICK


def server_pid(url: str) -> int | None:
    """The postmaster of the server at ``url``, if it runs on this machine (the parent of the
    connection's backend); None when it cannot be seen from here."""
    # Read while the connection is open: its backend exits when it closes.
    with psycopg.connect(url) as conn, contextlib.suppress(OSError, ValueError, IndexError):
        return int(_stat_fields(conn.info.backend_pid)[1])
    return None


def _tree(root: int) -> tuple[float, int]:
    """CPU seconds of ``root`` and its children, and how many children are exiting (their time
    shows nowhere until ``root`` has reaped them: it then moves into root's cutime)."""
    total, exiting = 0.0, 0
    with contextlib.suppress(OSError):
        total += process_seconds(root)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = _stat_fields(int(entry.name))
            if int(fields[1]) == root:
                total += sum(int(f) for f in fields[11:15]) / TICK
                exiting += fields[0] in ("Z", "X")
    return total, exiting


def tree_seconds(root: int | None, *, settle_s: float = 3.0) -> float | None:
    """CPU seconds of ``root`` and its children: the postmaster and every backend, background
    process and (through the postmaster's cutime/cstime) every backend that has exited.

    A backend that has just exited counts nowhere until the postmaster reaps it (about 0.1 s
    after its client left, measured): so the figure is taken once no child is exiting and two
    readings 0.1 s apart agree (up to ``settle_s`` seconds; 0: one reading, now, for the start
    of a measurement, when nothing has just exited)."""
    if root is None:
        return None
    if not settle_s:
        return _tree(root)[0]
    deadline = time.monotonic() + settle_s
    last, _ = _tree(root)
    while True:
        time.sleep(0.1)
        now, exiting = _tree(root)
        if (not exiting and now - last < 0.015) or time.monotonic() > deadline:
            return now
        last = now


# ---------------------------------------------------------------- the machine's load


def _cpu_line() -> list[int]:
    """user nice system idle iowait irq softirq steal ... jiffies of all cores."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


@dataclass(frozen=True)
class Snapshot:
    """The machine at one moment: its load averages and its CPU jiffies."""

    loadavg: tuple[float, float, float]
    jiffies: tuple[int, ...]

    @classmethod
    def take(cls) -> Snapshot:
        return cls(os.getloadavg(), tuple(_cpu_line()))


def busy_share(before: Snapshot, after: Snapshot) -> float:
    """The machine's busy share between two snapshots (all cores, 0..1)."""
    delta = [a - b for a, b in zip(after.jiffies, before.jiffies, strict=False)]
    total = sum(delta[:8])
    idle = delta[3] + delta[4]
    return (total - idle) / total if total else 0.0


def load_between(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """What the results record next to the figures: load averages (1, 5, 15 min) at both ends,
    and the busy and steal shares of all cores in between."""
    delta = [a - b for a, b in zip(after.jiffies, before.jiffies, strict=False)]
    total = sum(delta[:8])
    steal = delta[7] if len(delta) > 7 else 0
    return {
        "loadavg_before": [round(x, 2) for x in before.loadavg],
        "loadavg_after": [round(x, 2) for x in after.loadavg],
        "busy_share": round(busy_share(before, after), 3),
        "steal_share": round(steal / total, 4) if total else 0.0,
        "cores": os.cpu_count(),
    }


def describe(load: dict[str, Any]) -> str:
    """One line: ``load 1.2/0.9/0.5 -> 3.1/1.8/0.9, 78 % busy, steal 0.0 %``."""

    def avg(values: list[float]) -> str:
        return "/".join(f"{v:.1f}" for v in values)

    return (
        f"load {avg(load['loadavg_before'])} -> {avg(load['loadavg_after'])}, "
        f"{load['busy_share']:.0%} busy, steal {load['steal_share']:.1%}"
    )
