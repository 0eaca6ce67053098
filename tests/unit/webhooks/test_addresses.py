"""The SSRF guard: URL syntax, forbidden addresses, resolution (no external DNS)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest

from leadflow.webhooks import addresses
from leadflow.webhooks.addresses import (
    MAX_URL_LENGTH,
    ParsedUrl,
    UnsafeUrl,
    aresolve_checked,
    check_url,
    is_forbidden_address,
    resolve_checked,
)

NO_ALLOW: frozenset[str] = frozenset()


def refused(url: str, allow_hosts: frozenset[str] = NO_ALLOW) -> str:
    """The refusal's message, by the syntax check or after resolution."""
    with pytest.raises(UnsafeUrl) as caught:
        resolve_checked(check_url(url, allow_hosts), allow_hosts)
    message = str(caught.value)
    with pytest.raises(UnsafeUrl) as caught_async:
        asyncio.run(aresolve_checked(check_url(url, allow_hosts), allow_hosts))
    assert str(caught_async.value) == message
    return message


# -- syntax -----------------------------------------------------------------------------------


def test_a_url_is_split_as_it_will_be_sent() -> None:
    assert check_url("https://Buyer.Example/hooks/leads?x=1", NO_ALLOW) == ParsedUrl(
        "https", "buyer.example", 443, "/hooks/leads?x=1"
    )
    assert check_url("https://buyer.example", NO_ALLOW).target == "/"
    assert check_url("https://[2001:db8::1]:8443/h", NO_ALLOW) == ParsedUrl(
        "https", "2001:db8::1", 8443, "/h"
    )
    assert check_url("http://localhost/h", {"LocalHost"}).port == 80
    assert check_url("https://bücher.example/", NO_ALLOW).host == "xn--bcher-kva.example"


def test_authority_is_the_host_header() -> None:
    assert check_url("https://a.example/", NO_ALLOW).authority == "a.example"
    assert check_url("https://a.example:8443/", NO_ALLOW).authority == "a.example:8443"
    assert check_url("https://[::1]:8443/", NO_ALLOW).authority == "[::1]:8443"
    assert check_url("http://localhost:80/", {"localhost"}).authority == "localhost"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1/hook", "the URL must use https"),
        ("http://buyer.example/hook", "the URL must use https"),
        ("ftp://buyer.example/hook", "the URL must use https"),
        ("file:///etc/passwd", "not a valid absolute URL"),
        ("javascript:alert(1)", "not a valid absolute URL"),
        ("", "the URL is empty"),
        ("   ", "the URL is empty"),
        ("not a url", "not a valid absolute URL"),
        ("buyer.example/hook", "not a valid absolute URL"),
        ("//buyer.example/hook", "not a valid absolute URL"),
        ("https://", "not a valid absolute URL"),
        ("https:///path", "not a valid absolute URL"),
        ("https://user:pass@buyer.example/", "must not contain a user name or password"),
        ("https://user@buyer.example/", "must not contain a user name or password"),
        ("https://buyer.example:0/", "port is not valid"),
        ("https://buyer.example:99999/", "port is not valid"),
        ("https://buyer.example:http/", "not a valid absolute URL"),
        ("https://[::1/", "not a valid absolute URL"),
    ],
)
def test_syntax_refusals(url: str, message: str) -> None:
    with pytest.raises(UnsafeUrl, match=message):
        check_url(url, NO_ALLOW)


def test_url_length_limit() -> None:
    base = "https://buyer.example/"
    check_url(base + "a" * (MAX_URL_LENGTH - len(base)), NO_ALLOW)
    with pytest.raises(UnsafeUrl, match="longer than 2,048 characters"):
        check_url(base + "a" * (MAX_URL_LENGTH - len(base) + 1), NO_ALLOW)


def test_http_only_for_allowed_hosts_matched_exactly() -> None:
    assert check_url("http://127.0.0.1:8000/h", {"127.0.0.1"}).scheme == "http"
    assert check_url("HTTP://LOCALHOST/h", {"localhost"}).host == "localhost"
    for url in ("http://localhost.evil.example/", "http://evil.example/localhost"):
        with pytest.raises(UnsafeUrl, match="https"):
            check_url(url, {"localhost"})


# -- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.1.1",
        "100.100.100.200",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::1",
        "::7f00:1",
    ],
)
def test_forbidden_addresses(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses(address: str) -> None:
    assert not is_forbidden_address(ipaddress.ip_address(address))


# -- resolution -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://127.0.0.1/hook", "loopback address (127.0.0.1)"),
        ("https://10.0.0.1/hook", "private address (10.0.0.1)"),
        ("https://169.254.169.254/latest/meta-data", "cloud metadata address (169.254.169.254)"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback address (::ffff:7f00:1)"),
        ("https://100.64.1.1/hook", "shared (CGNAT) address (100.64.1.1)"),
        ("https://[fe80::1]/hook", "link-local address (fe80::1)"),
        ("https://[::1]/hook", "loopback address (::1)"),
        ("https://224.0.0.1/hook", "multicast address (224.0.0.1)"),
        ("https://[ff02::1]/hook", "multicast address (ff02::1)"),
        ("https://localhost/hook", "loopback address (127.0.0.1)"),
        ("https://localhost:8443/hook", "loopback address (127.0.0.1)"),
    ],
)
def test_forbidden_hosts_are_refused_after_resolution(url: str, kind: str) -> None:
    assert refused(url) == f"the host resolves to a {kind}"


def test_http_loopback_without_allow_list_is_refused_as_http() -> None:
    assert refused("http://127.0.0.1/hook") == "the URL must use https"
    assert refused("http://127.0.0.1:8000/hook") == "the URL must use https"


def test_numeric_spellings_of_loopback_are_refused() -> None:
    # glibc reads these as 127.0.0.1 without asking DNS; refused either way.
    for url in ("https://2130706433/", "https://127.1/", "https://0x7f.0.0.1/"):
        assert refused(url)


def test_allowed_hosts_skip_the_address_check() -> None:
    allow = frozenset({"localhost", "127.0.0.1"})
    assert resolve_checked(check_url("http://localhost:8000/h", allow), allow) == "127.0.0.1"
    assert resolve_checked(check_url("https://127.0.0.1/h", allow), allow) == "127.0.0.1"
    assert asyncio.run(aresolve_checked(check_url("http://localhost/h", allow), allow)) == (
        "127.0.0.1"
    )
    # Allowing one name does not allow another name for the same address.
    assert refused("https://127.0.0.1/h", frozenset({"localhost"})).endswith("(127.0.0.1)")


def test_public_literal_resolves_to_itself_without_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise AssertionError("an IP literal must not be looked up")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    parsed = check_url("https://93.184.216.34/", NO_ALLOW)
    assert resolve_checked(parsed, NO_ALLOW) == "93.184.216.34"
    assert asyncio.run(aresolve_checked(parsed, NO_ALLOW)) == "93.184.216.34"
    v6 = check_url("https://[2606:4700:4700::1111]/", NO_ALLOW)
    assert resolve_checked(v6, NO_ALLOW) == "2606:4700:4700::1111"


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    """Resolve names from ``answers`` (an empty list: no such name), sync and async."""

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if not answers.get(host):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        infos: list[Any] = []
        for a in answers[host]:
            family = socket.AF_INET6 if ":" in a else socket.AF_INET
            sockaddr = (a, port, 0, 0) if family == socket.AF_INET6 else (a, port)
            infos.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return infos

    async def agetaddrinfo(self: object, host: str, port: int, *args: Any, **kw: Any) -> Any:
        return getaddrinfo(host, port)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", agetaddrinfo)


def test_any_forbidden_address_among_many_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"mixed.example": ["93.184.216.34", "10.1.2.3"]})
    assert refused("https://mixed.example/") == "the host resolves to a private address (10.1.2.3)"


def test_unresolvable_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {})
    assert refused("https://nothing.example/") == "the host could not be resolved"
    allow = frozenset({"nothing.example"})
    assert refused("http://nothing.example/", allow) == "the host could not be resolved"


def test_ipv4_is_preferred_among_public_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"dual.example": ["2606:4700::1", "93.184.216.34", "93.184.216.34"]})
    parsed = check_url("https://dual.example/", NO_ALLOW)
    assert resolve_checked(parsed, NO_ALLOW) == "93.184.216.34"
    assert asyncio.run(aresolve_checked(parsed, NO_ALLOW)) == "93.184.216.34"


def test_refusals_are_value_errors_with_readable_messages() -> None:
    assert issubclass(UnsafeUrl, ValueError)
    assert addresses.forbidden_kind(ipaddress.ip_address("8.8.8.8")) is None
