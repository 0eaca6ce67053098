"""structlog configuration: key=value lines for people, JSON with LEADFLOW_LOG_JSON=true."""

from __future__ import annotations

import logging
import sys

import structlog

from leadflow.settings import Settings


def configure(settings: Settings) -> None:
    """Configure logging once per process. Never log a lead's name, e-mail or phone."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    # The embedded server's and the migration tool's chatter is not news to an operator.
    for noisy in ("pgserver", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
