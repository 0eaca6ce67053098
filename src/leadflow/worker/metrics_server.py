"""The worker's ``/metrics`` endpoint (SPEC §6, §8): Prometheus text, optional bearer token."""

from __future__ import annotations

import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from psycopg_pool import ConnectionPool

from leadflow.db.connection import Connection, transaction
from leadflow.db.pool import is_unavailable
from leadflow.services import returns
from leadflow.services.jobs import refresh_queue_depth

log = structlog.get_logger(__name__)


class MetricsServer:
    """A small threaded HTTP server; ``close`` stops it."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start(
    port: int, *, pool: ConnectionPool[Connection], token: str | None, host: str = "0.0.0.0"
) -> MetricsServer:
    """Serve ``/metrics`` (and ``/healthz``) on ``port`` in a background thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._reply(200, b"ok\n", "text/plain")
                return
            if self.path.split("?")[0] != "/metrics":
                self._reply(404, b"not found\n", "text/plain")
                return
            if token is not None and not hmac.compare_digest(
                self.headers.get("Authorization", ""), f"Bearer {token}"
            ):
                self._reply(401, b"unauthorized\n", "text/plain")
                return
            try:
                with transaction(pool) as tx:
                    refresh_queue_depth(tx)
                    returns.refresh_metrics(tx)
            except Exception as exc:
                # The counters are still worth serving while the database is away; an outage
                # is reported once, by the pools, not at every scrape.
                if is_unavailable(exc):
                    log.debug("queue_depth_not_refreshed", error_class=type(exc).__name__)
                else:
                    log.warning("queue_depth_not_refreshed", exc_info=True)
            self._reply(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes are not news."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    log.info("worker_metrics_listening", port=server.server_address[1])
    return MetricsServer(server, thread)
