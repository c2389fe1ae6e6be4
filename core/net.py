"""The client's address, as far as it can be trusted.

REMOTE_ADDR is the last hop. Behind a proxy that is the proxy, so every customer would share one
rate-limit allowance; X-Forwarded-For names the hops before it, but any client can send that
header. So the header is read only when REMOTE_ADDR is one of TRUSTED_PROXIES, from the right:
each trusted hop is skipped, and the first address that is not trusted is the client (what a
proxy appended, never what the client wrote in front of it)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def parse_networks(entries: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """Addresses or CIDRs (`10.0.0.0/8`, `::1`); ValueError names a bad one."""
    return _networks(tuple(entries))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.9:51234
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.ipv4_mapped or address if isinstance(address, ipaddress.IPv6Address) else address


def client_ip(request: HttpRequest) -> str:
    """The rightmost address not in TRUSTED_PROXIES; REMOTE_ADDR when that is not a trusted proxy."""
    return address_of(request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", ""))


def address_of(remote: str, forwarded_for: str) -> str:
    """`client_ip` for callers without a Django request (the live-events stream reads its ASGI scope)."""
    remote = remote or "unknown"
    trusted = parse_networks(settings.TRUSTED_PROXIES)
    if not trusted:
        return remote

    def is_trusted(address) -> bool:
        return any(address in network for network in trusted)

    current = _address(remote)
    if current is None or not is_trusted(current):
        return remote
    hops = forwarded_for.split(",")
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # garbage in the chain: trust nothing further left of it
        current = address
        if not is_trusted(address):
            break
    return str(current)
