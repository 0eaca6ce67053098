"""The SSRF guard: which webhook URLs may be called, and the address to call them at."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import httpx

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Already covered by the link-local, private and shared ranges; named so that a change in
# ``ipaddress`` can never let them through.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# RFC 6052's well-known NAT64 prefix: the last 32 bits are the IPv4 address reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class UnsafeUrl(ValueError):
    """A webhook URL that must not be called; the message says why, for a person to read."""


@dataclass(frozen=True)
class ParsedUrl:
    """A webhook URL split as the client will send it."""

    scheme: str
    host: str  # lower case, IDNA-encoded, IPv6 without brackets
    port: int
    target: str  # path and query, "/" when empty

    @property
    def authority(self) -> str:
        """``host[:port]`` as a ``Host`` header spells it (the port only when not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _allowed(host: str, allow_hosts: Collection[str]) -> bool:
    host = host.lower()
    return any(host == allowed.strip().lower().strip("[]") for allowed in allow_hosts)


def check_url(url: str, allow_hosts: Collection[str]) -> ParsedUrl:
    """The URL split into its parts, or UnsafeUrl when its syntax alone rules it out (no DNS)."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeUrl("the URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH:,} characters")
    # httpx parses it here because httpx sends it: no gap between what is checked and what
    # is called (the classic SSRF bypass through two URL parsers that disagree).
    try:
        parsed = httpx.URL(url)
        raw_host = parsed.raw_host.decode("ascii")
        port = parsed.port
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError):
        raise UnsafeUrl("the URL is not a valid absolute URL") from None
    scheme = parsed.scheme.lower()
    if not scheme or not raw_host:
        raise UnsafeUrl("the URL is not a valid absolute URL (https://host/path)")
    if parsed.userinfo:
        raise UnsafeUrl("the URL must not contain a user name or password")
    host = raw_host.lower()
    if scheme != "https" and not (scheme == "http" and _allowed(host, allow_hosts)):
        raise UnsafeUrl("the URL must use https")
    if port is not None and not 0 < port < 65536:
        raise UnsafeUrl("the URL's port is not valid")
    target = parsed.raw_path.decode("ascii") or "/"
    return ParsedUrl(
        scheme=scheme,
        host=host,
        port=port if port is not None else (443 if scheme == "https" else 80),
        target=target,
    )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden_kind(ip: IPAddress) -> str | None:
    """Why an address may not be called ("loopback", "private", ...), or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return forbidden_kind(embedded)
        if ip in _NAT64_LOCAL or ip.is_site_local:
            return "private"
    if ip in _METADATA:
        return "cloud metadata"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared (CGNAT)"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def is_forbidden_address(ip: IPAddress) -> bool:
    """True for any address that is not globally routable, or is a cloud metadata service."""
    return forbidden_kind(ip) is not None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _choose(parsed: ParsedUrl, addresses: Iterable[str], allow_hosts: Collection[str]) -> str:
    """The address to connect to, after refusing the lot if any of them is forbidden."""
    ips: list[IPAddress] = []
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if ip not in ips:
            ips.append(ip)
    if not ips:
        raise UnsafeUrl("the host could not be resolved")
    if not _allowed(parsed.host, allow_hosts):
        for ip in ips:
            kind = forbidden_kind(ip)
            if kind is not None:
                raise UnsafeUrl(f"the host resolves to a {kind} address ({ip})")
    # IPv4 first: a server without IPv6 routes would otherwise fail on dual-stack names.
    ips.sort(key=lambda ip: ip.version)
    return str(ips[0])


def _sockaddrs(infos: Iterable[tuple[object, ...]]) -> list[str]:
    addresses = []
    for info in infos:
        sockaddr = info[4]
        if isinstance(sockaddr, tuple) and sockaddr and isinstance(sockaddr[0], str):
            addresses.append(sockaddr[0])
    return addresses


def resolve_checked(parsed: ParsedUrl, allow_hosts: Collection[str]) -> str:
    """Resolve the host and return the address to connect to; UnsafeUrl if any is forbidden."""
    literal = _literal(parsed.host)
    if literal is not None:
        return _choose(parsed, [str(literal)], allow_hosts)
    try:
        infos = socket.getaddrinfo(parsed.host, parsed.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl("the host could not be resolved") from None
    return _choose(parsed, _sockaddrs(infos), allow_hosts)


async def aresolve_checked(parsed: ParsedUrl, allow_hosts: Collection[str]) -> str:
    """``resolve_checked`` for the event loop (the worker, at send time)."""
    literal = _literal(parsed.host)
    if literal is not None:
        return _choose(parsed, [str(literal)], allow_hosts)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(parsed.host, parsed.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl("the host could not be resolved") from None
    return _choose(parsed, _sockaddrs(infos), allow_hosts)
