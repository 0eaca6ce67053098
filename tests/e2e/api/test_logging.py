"""Logs carry request ids and lead ids, never a lead's personal data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.api.conftest import Marketplace

NAME = "Zebulon Quixotic"
EMAIL = "zebulon.quixotic@example.org"
PHONE = "+1 917 555 0199"


@pytest.mark.usefixtures("worker")
def test_lead_personal_data_never_reaches_the_logs(
    market: Marketplace, capfd: pytest.CaptureFixture[str]
) -> None:
    niche = market.niche(levels=[("Gold", 1, 100)], require_confirmation=False)
    market.provider("Acme", balance_cents=10_000, levels=[niche["levels"][0]["id"]])
    lead_id, _ = market.approved_lead(name=NAME, email=EMAIL, phone=PHONE)
    assert market.wait_settled(lead_id)["last_attempt_status"] == "success"
    market.get(f"/admin/leads/{lead_id}")
    market.get(f"/admin/leads/{lead_id}/assignments")
    confirm = market.niche("confirmed", levels=[("Gold", 1, 100)], require_confirmation=True)
    assert confirm["require_confirmation"] is True
    market.lead("confirmed", name=NAME, email=EMAIL, phone=PHONE)
    out, err = capfd.readouterr()
    logs = out + err
    assert f"lead_id={lead_id}" in logs or f'"lead_id": "{lead_id}"' in logs
    assert "request_id=" in logs or '"request_id"' in logs
    for secret in (NAME, EMAIL, PHONE, "Zebulon", "quixotic@"):
        assert secret not in logs


# A process's logging as ``leadflow`` commands configure it: our events and library records.
SCRIPT = """
import logging, sys
import psycopg, structlog
from leadflow import logs
from leadflow.settings import Settings

logs.configure(Settings(_env_file=None), json_without_tty=sys.argv[1] == "up")
structlog.get_logger("leadflow.test").info("lead_submitted", lead_id="L1")
worker = logging.getLogger("procrastinate.worker")
tick = {"queue": "maintenance", "task_name": "maintenance_tick"}
worker.info("Starting job tick[1]", extra={"action": "start_job", "job": tick})
idle = {"requeued": 0, "delivery_queued": 0}
worker.info("Job tick[1] idle", extra={"action": "job_success", "job": tick, "result": idle})
mail = {"queue": "email", "task_name": "deliver_mail"}
nothing = {"sent": 0, "failed": 0, "held": 0}
worker.info("Job mail[4] idle", extra={"action": "job_success", "job": mail, "result": nothing})
busy = {"requeued": 1, "delivery_queued": 0}
worker.info("Job tick[2] busy", extra={"action": "job_success", "job": tick, "result": busy})
logging.getLogger("psycopg.pool").warning("error connecting in 'leadflow'")
gone = RuntimeError("Database error.")
gone.__cause__ = psycopg.OperationalError("the database system is shutting down")
worker.error("listener failed", exc_info=gone)
job = {"queue": "distribute_lead", "task_name": "distribute_lead"}
failed = {"action": "job_error_retry", "job": job}
worker.error("Job distribute_lead[3] to retry", exc_info=gone, extra=failed)
logging.getLogger("uvicorn.error").info("Started server process")
"""


def _log_lines(command: str, **env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, command],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stderr.splitlines()


@pytest.mark.parametrize(
    ("command", "env"),
    [
        ("worker", {"LEADFLOW_LOG_FORMAT": "json"}),
        ("up", {}),
        ("worker", {"LEADFLOW_LOG_JSON": "1"}),
    ],
)
def test_json_lines_carry_our_events_and_the_libraries_meaningful_records(
    command: str, env: dict[str, str]
) -> None:
    records = [json.loads(line) for line in _log_lines(command, **env)]
    events = [r["event"] for r in records]
    # Routine records (a job's start, an idle tick, the pool's reconnect chatter, the listener
    # losing the database) stay out; a job that failed for want of it stays, without traceback.
    assert events == [
        "lead_submitted",
        "Job tick[2] busy",
        "Job distribute_lead[3] to retry",
        "Started server process",
    ]
    assert records[0]["lead_id"] == "L1" and records[0]["level"] == "info"
    assert records[1]["logger"] == "procrastinate.worker"
    assert records[2]["level"] == "error" and "exception" not in records[2]
    assert all("timestamp" in r for r in records)


def test_console_lines_without_a_terminal_unless_it_is_up() -> None:
    lines = _log_lines("worker")
    assert len(lines) == 4
    assert "lead_submitted" in lines[0] and "lead_id=L1" in lines[0]
    assert not lines[0].startswith("{")
