"""No internal address answers through the studio: the connections the server makes for a URL a browser user typed.

A URL typed in the studio (an `openai:` spec, a Convert base URL, an A2 judge) makes the *server* connect, from
inside its network.  Unless the operator listed the URL (`--endpoint`, `--allow-url`), the server connects only to
public addresses: never loopback, link-local, private, shared, reserved or multicast ones, nor one of the
machine's own.  The check is made on every connection the HTTP client opens -- each redirect included -- on the
addresses the name resolves to *then*, and the connection goes to the address that was checked (the name stays in
the Host header and the TLS handshake), so a name that resolves to a public address for the check and to an
internal one for the connection (DNS rebinding) reaches nothing.  Proxies from the environment are not used for
such URLs: behind a proxy the address could not be checked.
"""
from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2


class BlockedAddress(httpx2.ConnectError):
    """A connection the studio refuses to open for a user's URL (an httpx error: the client reports it as a
    connection that failed, with this message)."""


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


@dataclass(frozen=True)
class UrlRule:
    """One URL the operator listed: its scheme and host, its port (None: any), its path prefix."""
    scheme: str
    host: str
    port: int | None
    path: str

    @classmethod
    def parse(cls, url: str) -> UrlRule:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url}: an allowed URL starts with http:// or https:// and names a host")
        return cls(parts.scheme, parts.hostname.lower(), parts.port, parts.path.rstrip("/").lower())

    def matches(self, url: str) -> bool:
        parts = urlsplit(url.strip())
        if parts.scheme != self.scheme or (parts.hostname or "").lower() != self.host:
            return False
        if self.port is not None and (parts.port or _default_port(parts.scheme)) != self.port:
            return False
        path = parts.path.rstrip("/").lower()  # as the operator's URLs are kept (endpoints.normalise_url)
        return path == self.path or path.startswith(self.path + "/")


def is_loopback(host: str) -> bool:
    """Whether a host (a name or an address, as typed) is this machine's loopback: `localhost` or 127.x / ::1.
    Another host name may resolve to anything, so it is not."""
    host = host.strip().lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_allowed(url: str, rules: tuple[UrlRule, ...]) -> bool:
    return any(rule.matches(url) for rule in rules)


def internal_reason(address: str) -> str | None:
    """Why the server must not connect to `address` for a user (None: a public address it may reach)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "a private or reserved address"
    return "one of this machine's own addresses" if _is_own(str(ip)) else None


@functools.lru_cache(maxsize=256)
def _is_own(address: str) -> bool:
    """Whether an address belongs to this machine: the kernel lets a socket bind only to its own."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
        return True
    except OSError:
        return False


def checked_address(host: str, port: int) -> str:
    """The address to connect to for `host`: every address it resolves to must be public (one internal address
    among public ones refuses the name: the client might pick it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise httpx2.ConnectError(f"{host}: unknown host ({error.strerror})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        reason = internal_reason(address)
        if reason is not None:
            raise BlockedAddress(f"{host} is {reason}: the studio reaches such addresses only when its operator "
                                 "lists the URL (--endpoint or --allow-url)")
    return addresses[0]


def internal_host(url: str) -> str | None:
    """Why a user's URL names an internal address (None: public, or a host that does not resolve -- the
    connection will say so): the early word before a job starts; every connection is checked again."""
    parts = urlsplit(url.strip())
    try:
        checked_address(parts.hostname or "", parts.port or _default_port(parts.scheme))
    except BlockedAddress as error:
        return str(error)
    except (httpx2.ConnectError, ValueError):
        return None
    return None


def _pin(request: httpx2.Request, address: str | None) -> None:
    """Send the request to the checked address, naming the host in the Host header (already set) and in TLS."""
    if address is None:
        return
    if request.url.scheme == "https":
        request.extensions = {**request.extensions, "sni_hostname": request.url.host}
    request.url = request.url.copy_with(host=address)


def _target(request: httpx2.Request, rules: tuple[UrlRule, ...]) -> tuple[str, int] | None:
    """(host, port) to check, or None when the operator listed this URL."""
    if url_allowed(str(request.url), rules):
        return None
    return request.url.host, request.url.port or _default_port(request.url.scheme)


class GuardedTransport(httpx2.HTTPTransport):
    def __init__(self, rules: tuple[UrlRule, ...] = (), **kwargs):
        super().__init__(trust_env=False, **kwargs)
        self.rules = rules

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        target = _target(request, self.rules)
        _pin(request, checked_address(*target) if target else None)
        return super().handle_request(request)


class AsyncGuardedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, rules: tuple[UrlRule, ...] = (), **kwargs):
        super().__init__(trust_env=False, **kwargs)
        self.rules = rules

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        import anyio

        target = _target(request, self.rules)
        address = await anyio.to_thread.run_sync(checked_address, *target) if target else None
        _pin(request, address)
        return await super().handle_async_request(request)
