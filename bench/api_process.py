"""The API P5 measures: ``create_app`` under uvicorn, as ``leadflow serve`` runs it (logging
configured from the settings, the same uvicorn configuration).

Run as ``python -m bench.api_process URL PORT``; SIGTERM stops it.
"""

from __future__ import annotations

import sys

import uvicorn

from leadflow import logs
from leadflow.cli.serve import uvicorn_config
from leadflow.settings import Settings


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    settings = Settings()
    logs.configure(settings)
    uvicorn.Server(uvicorn_config(settings, url, "127.0.0.1", port)).run()


if __name__ == "__main__":
    main()
