"""The API P5 measures: ``create_app`` under uvicorn, as ``leadflow serve`` runs it.

Run as ``python -m bench.api_process URL PORT``; SIGTERM stops it.
"""

from __future__ import annotations

import sys

import uvicorn

from leadflow.api.app import create_app
from leadflow.settings import Settings


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    app = create_app(Settings(), url)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
