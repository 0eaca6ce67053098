"""The webhook client against a real receiver on 127.0.0.1 (no mocks of the client)."""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import pytest

from leadflow.webhooks import signature_header
from leadflow.webhooks.client import RESPONSE_CAP, Reply, WebhookClient
from tests.support.receiver import REDIRECT_TARGET, Receiver, Reject

LOCAL = frozenset({"127.0.0.1"})
BODY = b'{"event":"lead.assigned","delivery_id":"d-1"}'


def post(
    url: str,
    body: bytes = BODY,
    headers: Mapping[str, str] | None = None,
    *,
    allow_hosts: Collection[str] = LOCAL,
    timeout: float = 0.5,
) -> Reply:
    async def run() -> Reply:
        async with WebhookClient(
            allow_hosts=allow_hosts, user_agent="leadflow/test", timeout=timeout
        ) as client:
            return await client.post(url, body, headers or {})

    return asyncio.run(run())


def test_delivered_with_body_headers_and_a_valid_signature(receiver: Receiver) -> None:
    receiver.secret("hook", "new-secret", "old-secret")
    headers = {
        "Leadflow-Delivery": "d-1",
        "Leadflow-Signature": signature_header(["new-secret"], BODY, int(time.time())),
    }
    reply = post(receiver.url("hook"), BODY, headers)
    assert (reply.status_code, reply.error, reply.timed_out) == (200, None, False)
    assert reply.body == b'{"ok": true}'
    assert reply.excerpt == '{"ok": true}'
    assert 0 < reply.seconds < 5
    [got] = receiver.wait_for("hook", 1)
    assert got.body == BODY
    assert got.json == {"event": "lead.assigned", "delivery_id": "d-1"}
    assert got.headers["user-agent"] == "leadflow/test"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["leadflow-delivery"] == "d-1"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert (got.signature_valid, got.valid_for) == (True, (0,))


def test_rotation_signs_with_both_and_a_bad_signature_is_seen(receiver: Receiver) -> None:
    receiver.secret("hook", "new", "old")
    now = int(time.time())
    post(
        receiver.url("hook"),
        BODY,
        {"Leadflow-Signature": signature_header(["new", "old"], BODY, now)},
    )
    post(receiver.url("hook"), BODY, {"Leadflow-Signature": signature_header(["other"], BODY, now)})
    post(receiver.url("hook"), BODY)
    both, bad, unsigned = receiver.wait_for("hook", 3)
    assert (both.signature_valid, both.valid_for) == (True, (0, 1))
    assert (bad.signature_valid, bad.valid_for) == (False, ())
    assert unsigned.signature_valid is False
    post(receiver.url("plain"))
    assert receiver.wait_for("plain", 1)[0].signature_valid is None


@pytest.mark.parametrize(
    ("mode", "status"), [("error", 500), ("gone", 410), ("conflict", 409), ("busy", 429)]
)
def test_statuses_are_returned(receiver: Receiver, mode: str, status: int) -> None:
    receiver.respond("hook", mode)
    reply = post(receiver.url("hook"))
    assert (reply.status_code, reply.error, reply.timed_out) == (status, None, False)


def test_the_script_is_consumed_in_order_the_last_repeating(receiver: Receiver) -> None:
    receiver.respond("hook", "error", "reject", Reject("not in our area"), "ok")
    replies = [post(receiver.url("hook")) for _ in range(5)]
    assert [r.status_code for r in replies] == [500, 200, 200, 200, 200]
    assert replies[1].body == b'{"accepted": false, "reason": "duplicate"}'
    assert replies[2].body == b'{"accepted": false, "reason": "not in our area"}'
    assert replies[3].body == replies[4].body == b'{"ok": true}'
    # Each path is its own endpoint.
    assert post(receiver.url("other")).status_code == 200
    assert len(receiver.received("hook")) == 5
    assert len(receiver.received("other")) == 1


def test_hang_times_out(receiver: Receiver) -> None:
    receiver.respond("hook", "hang")
    reply = post(receiver.url("hook"), timeout=0.5)
    assert (reply.status_code, reply.error, reply.timed_out) == (None, "timeout", True)
    assert 0.45 < reply.seconds < 2
    assert len(receiver.wait_for("hook", 1)) == 1


def test_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.respond("hook", "redirect")
    reply = post(receiver.url("hook"))
    assert (reply.status_code, reply.error) == (302, None)
    assert len(receiver.received("hook")) == 1
    time.sleep(0.1)
    assert receiver.received(REDIRECT_TARGET) == []


def test_a_huge_reply_is_read_only_up_to_the_cap(receiver: Receiver) -> None:
    receiver.respond("hook", "huge")
    tracemalloc.start()
    try:
        started = time.perf_counter()
        reply = post(receiver.url("hook"), timeout=5)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (reply.status_code, reply.error) == (200, None)
    assert len(reply.body) == RESPONSE_CAP
    assert len(reply.excerpt) == 1024
    # 10 MB were offered; reading them whole would take > 10 MB and far more time.
    assert peak < 2 * 1024 * 1024, peak
    assert elapsed < 2


def test_a_refused_url_reaches_nobody(receiver: Receiver) -> None:
    reply = post(receiver.url("hook"), allow_hosts=())
    assert reply == Reply(None, b"", reply.seconds, "refused: the URL must use https", False)
    https_loopback = receiver.url("hook").replace("http://", "https://")
    reply = post(https_loopback, allow_hosts=())
    assert reply.error == "refused: the host resolves to a loopback address (127.0.0.1)"
    reply = post("https://localhost:1/hook", allow_hosts=())
    assert reply.error == "refused: the host resolves to a loopback address (127.0.0.1)"
    assert (
        post("not a url").error
        == "refused: the URL is not a valid absolute URL (https://host/path)"
    )
    time.sleep(0.1)
    assert receiver.received("hook") == []


def test_the_host_header_is_the_urls_when_connecting_to_the_checked_address(
    receiver: Receiver,
) -> None:
    reply = post(f"http://localhost:{receiver.port}/hook", allow_hosts={"localhost"})
    assert reply.status_code == 200
    [got] = receiver.wait_for("hook", 1)
    assert got.headers["host"] == f"localhost:{receiver.port}"


def test_no_second_lookup_and_one_pool_per_host_name(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Names only this fake DNS knows: a second lookup by the HTTP stack would fail.
    names = {"buyer-a.test": "127.0.0.1", "buyer-b.test": "127.0.0.1"}
    lookups: list[str] = []
    real = asyncio.BaseEventLoop.getaddrinfo

    async def getaddrinfo(self: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return await real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", getaddrinfo)

    async def run() -> list[Reply]:
        async with WebhookClient(allow_hosts=names, user_agent="leadflow/test") as client:
            urls = [f"http://{name}:{receiver.port}/hook" for name in names] * 3
            return await asyncio.gather(*(client.post(u, BODY, {}) for u in urls))

    replies = asyncio.run(run())
    assert [r.status_code for r in replies] == [200] * 6
    got = receiver.wait_for("hook", 6)
    hosts = sorted(r.headers["host"] for r in got)
    assert hosts == sorted([f"buyer-a.test:{receiver.port}", f"buyer-b.test:{receiver.port}"] * 3)
    assert sorted(h for h in lookups if h in names) == sorted(list(names) * 3)


def test_connection_errors_are_replies(receiver: Receiver) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    reply = post(f"http://127.0.0.1:{closed_port}/hook")
    assert reply.status_code is None
    assert reply.error is not None and reply.error.startswith("connect error: ")
    assert not reply.timed_out


def test_connections_are_reused(receiver: Receiver) -> None:
    async def run() -> list[Reply]:
        async with WebhookClient(allow_hosts=LOCAL, user_agent="leadflow/test") as client:
            return [await client.post(receiver.url("hook"), BODY, {}) for _ in range(20)]

    assert all(r.status_code == 200 for r in asyncio.run(run()))
    assert len(receiver.wait_for("hook", 20)) == 20


def test_wait_for_says_what_arrived() -> None:
    with Receiver() as r:
        post(r.url("hook"), BODY, {"Leadflow-Delivery": "d-9"})
        with pytest.raises(AssertionError, match=r"expected 2 request\(s\) on /hook.*got 1.*d-9"):
            r.wait_for("hook", 2, timeout=0.2)
        with pytest.raises(ValueError, match="unknown mode"):
            r.respond("hook", "teapot")


def test_a_hanging_reply_does_not_hold_up_shutdown() -> None:
    r = Receiver().start()
    r.respond("hook", "hang")
    post(r.url("hook"), timeout=0.2)
    started = time.perf_counter()
    r.stop()
    assert time.perf_counter() - started < 3


@pytest.fixture
def tls_receiver() -> Iterator[Receiver]:
    with Receiver(tls_hostname="localhost") as r:
        yield r


def test_https_verifies_the_certificate_against_the_name_not_the_address(
    tls_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The certificate names "localhost" only, and the connection goes to 127.0.0.1: it
    # verifies only if SNI and the hostname check use the URL's name.
    assert tls_receiver.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_receiver.ca_file))
    url = tls_receiver.url("hook", host="localhost")
    reply = post(url, allow_hosts={"localhost"}, timeout=5)
    assert (reply.status_code, reply.error) == (200, None)
    [got] = tls_receiver.wait_for("hook", 1)
    assert got.headers["host"] == f"localhost:{tls_receiver.port}"
    # The same server by its address: the certificate does not name it.
    reply = post(tls_receiver.url("hook"), allow_hosts={"127.0.0.1"}, timeout=5)
    assert reply.error is not None and reply.error.startswith("connect error: ")
    assert "CERTIFICATE_VERIFY_FAILED" in reply.error


def test_https_refuses_a_certificate_nobody_trusts(
    tls_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    reply = post(tls_receiver.url("hook", host="localhost"), allow_hosts={"localhost"}, timeout=5)
    assert reply.status_code is None
    assert reply.error is not None and "CERTIFICATE_VERIFY_FAILED" in reply.error
    assert tls_receiver.received("hook") == []


def test_a_status_followed_by_a_stalled_body_is_still_the_answer(receiver: Receiver) -> None:
    receiver.respond("hook", "stall")
    reply = post(receiver.url("hook"), timeout=0.5)
    assert (reply.status_code, reply.error, reply.timed_out) == (200, None, False)
    assert reply.body == b'{"ok": t'
    assert 0.45 < reply.seconds < 2
