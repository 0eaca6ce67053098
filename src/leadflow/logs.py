"""Logging for every process: our structlog events and the libraries' records (Procrastinate,
uvicorn, psycopg) rendered alike, a console for people or JSON lines for a collector, and quiet:
one line per meaningful event, routine work at DEBUG."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from leadflow.db.jobs import EMAIL_QUEUE, MAINTENANCE_QUEUE, WEBHOOK_QUEUE
from leadflow.db.pool import is_unavailable
from leadflow.settings import Settings

# Marks the handler ``configure`` installs, so a second call replaces it and leaves others be.
_HANDLER_NAME = "leadflow"
# Procrastinate's records that are routine whichever job they are about: the start of a job
# (its end line says all), a periodic job deferred, tasks registered at each worker start.
_ROUTINE_ACTIONS = frozenset({"start_job", "periodic_task_deferred"})
_ROUTINE_LOGGERS = ("procrastinate.blueprints", "procrastinate.periodic")
_QUIET_WHEN_IDLE = frozenset({MAINTENANCE_QUEUE, EMAIL_QUEUE, WEBHOOK_QUEUE})


def use_json(settings: Settings, *, json_without_tty: bool = False) -> bool:
    """JSON lines when ``LEADFLOW_LOG_FORMAT=json`` (or the older ``LEADFLOW_LOG_JSON=true``);
    with ``auto``, when ``json_without_tty`` and stderr is not a terminal (``leadflow up`` under
    a supervisor); the console otherwise."""
    if settings.log_format == "json" or settings.log_json:
        return True
    if settings.log_format == "console":
        return False
    return json_without_tty and not sys.stderr.isatty()


def configure(settings: Settings, *, json_without_tty: bool = False) -> None:
    """Configure logging once per process. Never log a lead's name, e-mail or phone."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    as_json = use_json(settings, json_without_tty=json_without_tty)
    stamped: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor
    if as_json:
        stamped.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        # Tracebacks are left to the renderer: rich's, when rich is installed.
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *stamped, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setLevel(level)
    handler.addFilter(_Quiet(level))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *stamped],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # The embedded server's and the migration tool's chatter is not news to an operator.
    for noisy in ("pgserver", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


class _Quiet(logging.Filter):
    """On the handler: routine records go down to DEBUG, and out unless DEBUG is on."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if _routine(record):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.level


def _routine(record: logging.LogRecord) -> bool:
    if record.name.startswith("psycopg.pool"):
        # Connections discarded and attempts failed: the pools report an outage once themselves.
        return record.levelno < logging.ERROR
    if not record.name.startswith("procrastinate"):
        return False
    if record.exc_info and record.exc_info[1] is not None and is_unavailable(record.exc_info[1]):
        if str(getattr(record, "action", "")).startswith("job_"):
            # A job's outcome stays news, but the database went away: the pools reported
            # why, once; the traceback would only repeat it.
            record.exc_info, record.exc_text = None, None
            return False
        return True  # the listener or the loop losing the database: the pools reported it
    if record.name.startswith(_ROUTINE_LOGGERS) and record.levelno <= logging.INFO:
        return True
    action = getattr(record, "action", None)
    if action in _ROUTINE_ACTIONS:
        return True
    job: Any = getattr(record, "job", None)
    result: Any = getattr(record, "result", None)
    # A maintenance tick or a mail delivery that found nothing to do (another worker had the
    # mails); one that requeued, queued or sent something stays.
    return (
        action == "job_success"
        and isinstance(job, dict)
        and job.get("queue") in _QUIET_WHEN_IDLE
        and not (isinstance(result, dict) and any(result.values()))
    )
