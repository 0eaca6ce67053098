"""The HTTP client of webhook deliveries: checked, pinned, capped, never raising."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType

import httpcore
import httpx

from leadflow.webhooks import addresses

RESPONSE_CAP = 64 * 1024
TIMEOUT_SECONDS = 10.0
EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class Reply:
    """What one delivery attempt got back: a status, or why there is none."""

    status_code: int | None
    body: bytes  # at most RESPONSE_CAP bytes
    seconds: float
    # None when an HTTP status was received (even if the body was then cut short)
    error: str | None
    timed_out: bool

    @property
    def excerpt(self) -> str:
        """The first KiB of the body, as text, for the attempt log."""
        return self.body[:EXCERPT_BYTES].decode("utf-8", errors="replace")


@dataclass(frozen=True)
class _Pin:
    host: str
    port: int
    address: str


# The checked address of the request being sent by this task. The connection pool opens a
# new connection from inside the request that needs it, so the pin is in context there.
_pin: contextvars.ContextVar[_Pin | None] = contextvars.ContextVar("webhook_pin", default=None)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to the address the SSRF guard checked, never by name."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pin = _pin.get()
        if pin is None or pin.host != host.lower() or pin.port != port:
            # Fail closed: a connection nobody checked is never opened.
            raise httpcore.ConnectError(f"no checked address for {host}:{port}")
        return await self._inner.connect_tcp(
            pin.address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are never sent over a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a pool whose connections go to the pinned address."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # The URL keeps the host name, so the pool is keyed by name and TLS checks the name
        # (SNI and certificate); only the TCP connect is redirected, by the backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(),
        )


def _describe(exc: BaseException) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"connect error: {detail}"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return f"protocol error: {detail}"
    if isinstance(exc, httpx.HTTPError):
        return f"network error: {detail}"
    return f"error: {type(exc).__name__}: {detail}"


class WebhookClient:
    """Posts webhook bodies to buyers' URLs, one pooled httpx client for all of them."""

    def __init__(
        self,
        *,
        allow_hosts: Collection[str],
        user_agent: str,
        timeout: float = TIMEOUT_SECONDS,
        max_connections: int = 100,
    ) -> None:
        self._allow_hosts = frozenset(h.strip().lower() for h in allow_hosts)
        self._timeout = timeout
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._http = httpx.AsyncClient(
            transport=_PinnedTransport(limits=limits),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            # The body is read raw and capped: a compressed reply could expand without bound.
            headers={"User-Agent": user_agent, "Accept-Encoding": "identity"},
        )

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """POST ``body`` to ``url`` if the SSRF guard allows it; never raises for the network."""
        started = time.perf_counter()
        try:
            parsed = addresses.check_url(url, self._allow_hosts)
            address = await addresses.aresolve_checked(parsed, self._allow_hosts)
        except addresses.UnsafeUrl as exc:
            return Reply(None, b"", time.perf_counter() - started, f"refused: {exc}", False)
        token = _pin.set(_Pin(parsed.host, parsed.port, address))
        try:
            return await self._exchange(url, body, headers, started)
        finally:
            _pin.reset(token)

    async def _exchange(
        self, url: str, body: bytes, headers: Mapping[str, str], started: float
    ) -> Reply:
        # One deadline for the whole attempt: httpx's per-phase timeouts alone would let a
        # reply trickled a byte at a time hold the attempt for ever.
        deadline = asyncio.get_running_loop().time() + self._timeout
        request = self._http.build_request(
            "POST", url, content=body, headers={"Content-Type": "application/json", **headers}
        )
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._http.send(request, stream=True)
        except (TimeoutError, httpx.TimeoutException):
            return Reply(None, b"", time.perf_counter() - started, "timeout", True)
        except Exception as exc:
            return Reply(None, b"", time.perf_counter() - started, _describe(exc), False)
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout_at(deadline):
                await _read_capped(response, RESPONSE_CAP, chunks)
        except Exception:
            # The status is the buyer's answer; a body cut short only shortens the excerpt.
            pass
        finally:
            # Closing a partly read response drops its connection rather than reading on.
            with contextlib.suppress(Exception):
                await response.aclose()
        return Reply(
            response.status_code, b"".join(chunks), time.perf_counter() - started, None, False
        )


async def _read_capped(response: httpx.Response, cap: int, chunks: list[bytes]) -> None:
    """Append the body's first ``cap`` bytes to ``chunks`` as they arrive."""
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk[: cap - size])
        size += len(chunks[-1])
        if size >= cap:
            break
