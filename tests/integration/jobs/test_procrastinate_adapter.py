"""The Procrastinate internals ``db.jobs`` relies on are those of the pinned version.

An upgrade of Procrastinate that renames a function, changes a signature, a row type or a
notification channel fails here, not in production."""

from __future__ import annotations

import importlib.metadata
import inspect

import psycopg
from procrastinate import manager

from leadflow.db import jobs


def test_the_installed_version_is_the_one_the_adapter_was_written_for() -> None:
    assert importlib.metadata.version("procrastinate") == jobs.PROCRASTINATE_VERSION


def test_the_functions_have_the_signatures_the_adapter_calls(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        found = {
            f"{name}({args})"
            for name, args in conn.execute(
                "SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc "
                "WHERE proname LIKE 'procrastinate%%'"
            ).fetchall()
        }
    assert jobs.DEFER_FUNCTION in found
    assert jobs.RETRY_FUNCTION in found


def test_the_row_type_of_a_job_to_defer_has_the_fields_in_order(db_url: str) -> None:
    name, fields = jobs.JOB_TO_DEFER_TYPE
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT a.attname FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid "
            "WHERE t.typname = %s AND a.attnum > 0 ORDER BY a.attnum",
            (name,),
        ).fetchall()
    assert tuple(r[0] for r in rows) == fields


def test_the_tables_have_the_columns_the_adapter_reads(db_url: str) -> None:
    wanted = {
        "procrastinate_jobs": {
            "id",
            "queue_name",
            "task_name",
            "status",
            "attempts",
            "lock",
            "scheduled_at",
            "args",
        },
        "procrastinate_events": {"job_id", "type", "at"},
    }
    with psycopg.connect(db_url) as conn:
        for table, columns in wanted.items():
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
                (table,),
            ).fetchall()
            assert columns <= {r[0] for r in rows}, table


def test_workers_listen_on_the_channels_the_adapter_notifies() -> None:
    # Procrastinate's manager names the channels its workers LISTEN on.
    source = inspect.getsource(manager)
    assert f'"{jobs.ANY_QUEUE_CHANNEL}"' in source
    assert f'"{jobs.QUEUE_CHANNEL_PREFIX}" + queue' in source
