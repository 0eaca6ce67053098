"""A buyer's webhook receiver on 127.0.0.1, in a background thread, for tests and the bench.

Each path is an endpoint with its own script of replies and its own log::

    with Receiver() as r:
        r.respond("hook", "error", "ok")       # 500 once, then 200 for ever
        r.secret("hook", new_secret, old_secret)
        ... deliver to r.url("hook") ...
        [first, second] = r.wait_for("hook", 2)
        assert second.signature_valid and second.valid_for == (0, 1)
"""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import uvicorn

from leadflow.webhooks import verify

HANG_SECONDS = 30.0
HUGE_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024
REDIRECT_TARGET = "redirected"


@dataclass(frozen=True)
class Reject:
    """200 ``{"accepted": false, "reason": ...}``: the buyer says no."""

    reason: str = "duplicate"


@dataclass(frozen=True)
class Redirect:
    """302 to another path of the same receiver."""

    to: str = REDIRECT_TARGET


@dataclass(frozen=True)
class Status:
    """Any status with any body."""

    code: int
    body: bytes = b""


Mode = str | Reject | Redirect | Status

_STATUS_MODES = {
    "ok": Status(200, b'{"ok": true}'),
    "conflict": Status(409, b'{"error": "conflict"}'),
    "gone": Status(410, b'{"error": "gone"}'),
    "busy": Status(429, b'{"error": "slow down"}'),
    "error": Status(500, b'{"error": "boom"}'),
}
_NAMED = {*_STATUS_MODES, "reject", "hang", "stall", "redirect", "huge"}


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    json: Any  # None when the body is not JSON
    signature_valid: bool | None  # None when no secret was set for the path
    valid_for: tuple[int, ...]  # indexes of the secrets whose signature matched
    at: float  # time.time() on arrival


@dataclass
class _Endpoint:
    script: list[Mode] = field(default_factory=lambda: ["ok"])
    secrets: tuple[str, ...] = ()
    log: list[Received] = field(default_factory=list)

    def next_mode(self) -> Mode:
        # The last mode repeats for ever.
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


def _key(path: str) -> str:
    return path.split("?", 1)[0].strip("/")


def _check_mode(mode: Mode) -> None:
    if isinstance(mode, str) and mode not in _NAMED:
        raise ValueError(f"unknown mode {mode!r}; one of {sorted(_NAMED)}")


class Receiver:
    """uvicorn serving a tiny raw ASGI app on an OS-chosen port of 127.0.0.1.

    ``Receiver(tls_hostname="localhost")`` serves https with a certificate for that name only,
    issued by a CA of its own whose PEM file is ``ca_file`` (trust it with ``SSL_CERT_FILE``).
    """

    def __init__(self, *, tls_hostname: str | None = None) -> None:
        self.tls_hostname = tls_hostname
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self.ca_file: Path | None = None
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Endpoint] = {}
        self._stopping = False
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Receiver:
        """Serve in a background thread; returns once it accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        self.port = sock.getsockname()[1]
        tls: dict[str, Any] = {}
        if self.tls_hostname is not None:
            self._tls_dir = tempfile.TemporaryDirectory(prefix="receiver-tls-")
            self.ca_file, cert, key = _issue_certificate(
                Path(self._tls_dir.name), self.tls_hostname
            )
            tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        config = uvicorn.Config(
            self._app,
            **tls,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            proxy_headers=False,
            timeout_graceful_shutdown=2,
            backlog=4096,
        )
        self._server = uvicorn.Server(config)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: server.run(sockets=[sock]), name="webhook-receiver", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving; hanging replies end at once."""
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        if self._tls_dir is not None:
            self._tls_dir.cleanup()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the test says and reads ---------------------------------------------------------

    def url(self, path: str = "hook", *, host: str = "127.0.0.1") -> str:
        """``http://127.0.0.1:<port>/<path>`` (https when serving TLS)."""
        scheme = "http" if self.tls_hostname is None else "https"
        return f"{scheme}://{host}:{self.port}/{path.lstrip('/')}"

    def respond(self, path: str, *modes: Mode) -> None:
        """Replies for ``path``, consumed in order, the last one repeating (default "ok").

        Modes: "ok" (200), "reject" or ``Reject(reason)`` (200 ``accepted: false``), "conflict"
        (409), "gone" (410), "busy" (429), "error" (500), "hang" (no reply for 30 s), "stall"
        (200 and half a body, then nothing), "redirect" or ``Redirect(to)`` (302 to another
        path here), "huge" (200 and 10 MB), ``Status(code, body)``.
        """
        for mode in modes:
            _check_mode(mode)
        with self._lock:
            self._endpoint(path).script = list(modes) or ["ok"]

    def secret(self, path: str, *secrets: str) -> None:
        """The secrets the requests to ``path`` are verified with, as a buyer would."""
        with self._lock:
            self._endpoint(path).secrets = secrets

    def received(self, path: str) -> list[Received]:
        """The requests to ``path`` so far, oldest first."""
        with self._lock:
            return list(self._endpoint(path).log)

    def wait_for(self, path: str, count: int, timeout: float = 10) -> list[Received]:
        """The requests to ``path`` once there are at least ``count``; AssertionError if not."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.received(path)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                summary = [(r.headers.get("leadflow-delivery"), r.signature_valid) for r in got]
                raise AssertionError(
                    f"expected {count} request(s) on /{_key(path)} within {timeout}s, "
                    f"got {len(got)}: {summary}"
                )
            time.sleep(0.01)

    # -- the ASGI app -------------------------------------------------------------------------

    def _endpoint(self, path: str) -> _Endpoint:
        key = _key(path)
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            endpoint = self._endpoints[key] = _Endpoint()
        return endpoint

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = _key(scope["path"])
        with self._lock:
            endpoint = self._endpoint(path)
            mode = endpoint.next_mode()
            secrets = endpoint.secrets
        signature = headers.get("leadflow-signature", "")
        valid_for = tuple(i for i, s in enumerate(secrets) if verify(s, signature, body))
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = None
        record = Received(
            path=path,
            headers=headers,
            body=body,
            json=parsed,
            signature_valid=bool(valid_for) if secrets else None,
            valid_for=valid_for,
            at=time.time(),
        )
        with self._lock:
            endpoint.log.append(record)
        await self._reply(mode, send)

    async def _reply(self, mode: Mode, send: Any) -> None:
        if isinstance(mode, str) and mode in _STATUS_MODES:
            mode = _STATUS_MODES[mode]
        elif mode == "reject":
            mode = Reject()
        elif mode == "redirect":
            mode = Redirect()
        if isinstance(mode, Status):
            await _send(send, mode.code, mode.body)
        elif isinstance(mode, Reject):
            body = json.dumps({"accepted": False, "reason": mode.reason}).encode()
            await _send(send, 200, body)
        elif isinstance(mode, Redirect):
            location = self.url(mode.to).encode()
            await _send(send, 302, b"", [(b"location", location)])
        elif mode == "hang":
            deadline = time.monotonic() + HANG_SECONDS
            while not self._stopping and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await _send(send, 503, b"")
        elif mode == "stall":
            # The status and part of the body, then nothing until the client gives up.
            start = {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"12")],
            }
            await send(start)
            await send({"type": "http.response.body", "body": b'{"ok": t', "more_body": True})
            deadline = time.monotonic() + HANG_SECONDS
            while not self._stopping and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await send({"type": "http.response.body", "body": b"rue}"})
        elif mode == "huge":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/octet-stream"),
                        (b"content-length", str(HUGE_BYTES).encode()),
                    ],
                }
            )
            chunk = b"x" * _CHUNK
            for _ in range(HUGE_BYTES // _CHUNK):
                if self._stopping:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})


async def _send(
    send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _issue_certificate(folder: Path, hostname: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for ``hostname`` only: (CA file, cert file, key file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("receiver test CA"))
        .issuer_name(name("receiver test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(hostname))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver, stopped when the test ends."""
    with Receiver() as r:
        yield r
