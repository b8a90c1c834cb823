"""Where webhooks may be sent: public addresses, and what an admin allows besides.

A subscription's URL is the admin's, but the POSTs come from inside the
installation: to a loopback, link-local (cloud metadata at 169.254.169.254 or
fd00:ec2::254), private, unique-local, multicast or unspecified address they
would reach services no outsider should (a database on 127.0.0.1:5432, the
metadata service's credentials), and the delivery log would tell what answers
where. So every address a URL's host stands for must be public (`is_global`),
or inside a network of the admin's allow-list (`TargetPolicy.allowed`, the
`webhook_allowed_networks` setting, e.g. `10.20.0.0/16` for a CRM on the LAN).

It is checked twice: when a subscription is made or changed (`check_url`, a clear
refusal), and at each delivery after resolving the name again (`resolve`), since
a name may point elsewhere by then; the delivery connects to the very address
that was checked (`Target.address`), so a second lookup cannot swap it. Numeric
host forms (`2130706433`, `0x7f.1`) are resolved like names, to what they mean.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# What a refused target's delivery log says: no address, port or error to learn from.
NOT_ALLOWED = "target not allowed"
UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
MASK = "***"  # a password, as shown


class TargetRefused(ValueError):
    """The URL may not be a webhook's target; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """A delivery's destination, its address checked: connect to `address`, and
    speak to `host` (the Host header, TLS server name and certificate)."""

    scheme: str
    host: str
    port: int
    path: str  # with the query
    address: str
    username: str | None = None
    password: str | None = None


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """The address, and the IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64)."""
    found: list[IPAddress] = []
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if inner is not None:
                found.append(inner)
        if ip in NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [*found, ip]


def kind(ip: IPAddress) -> str | None:
    """Why webhooks may not go to `ip` by default ("loopback", ...); None if it is public."""
    for one in _embedded(ip):
        for word, matches in (("unspecified", one.is_unspecified), ("loopback", one.is_loopback),
                              ("link-local", one.is_link_local),
                              ("multicast", one.is_multicast),
                              ("unique-local", one in UNIQUE_LOCAL),
                              ("private", one.is_private), ("reserved", not one.is_global)):
            if matches:
                return word
    return None


@dataclass(frozen=True)
class TargetPolicy:
    # Networks or addresses webhooks may reach although they are not public.
    allowed: tuple[str, ...] = ()
    resolver: Callable[[str, int], list[str]] = field(default=_resolve, compare=False)

    def __post_init__(self) -> None:
        _ = self.networks  # a malformed entry fails at start, not at the first delivery

    @cached_property
    def networks(self) -> tuple[IPNetwork, ...]:
        try:
            return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.allowed)
        except ValueError as err:
            raise ValueError(f"webhook allow-list: {err}") from None

    def refusal(self, address: str) -> str | None:
        """Why `address` may not be a target, or None."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in network for network in self.networks):
            return None
        word = kind(ip)
        return f"{address} is a {word} address" if word else None

    def _addresses(self, host: str, port: int) -> list[str]:
        try:
            return self.resolver(host, port)
        except (OSError, UnicodeError):
            return []

    def check_url(self, url: str) -> None:
        """At subscription: refuse a URL whose host is, or now resolves to, an address
        webhooks may not reach. A name that does not resolve yet passes: every
        delivery checks again."""
        host, port = _host_port(url)
        for address in self._addresses(host, port):
            reason = self.refusal(address)
            if reason:
                raise TargetRefused(
                    f"url: '{host}' is not allowed as a webhook target ({reason}); webhooks "
                    "go to public addresses, or to networks an admin allows "
                    "(webhook_allowed_networks)")

    def resolve(self, url: str) -> Target:
        """At delivery: where to connect, every address of the host checked; refused
        (`NOT_ALLOWED`) if any of them may not be reached, or none is found."""
        host, port = _host_port(url)
        addresses = self._addresses(host, port)
        if not addresses:
            raise TargetRefused("the host name does not resolve")
        if any(self.refusal(address) for address in addresses):
            raise TargetRefused(NOT_ALLOWED)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Target(parts.scheme, host, port, path, addresses[0],
                      unquote(parts.username) if parts.username is not None else None,
                      unquote(parts.password) if parts.password is not None else None)


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise TargetRefused("url: the port is not a number from 0 to 65535") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("url: an http:// or https:// URL with a host")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def masked(url: str) -> str:
    """The URL with the password of its userinfo (`user:password@`) hidden, to show or log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{parts.username}:{MASK}@{host}").geturl()
