"""Who the client is, for per-client limits (docs/security.md, "Personal links, sessions and report files"): the
direct peer's address, unless the peer is a trusted proxy (the ingress controller in front of the portal, the portal
in front of tracking); then the last X-Forwarded-For entry, the one that proxy appended. Earlier entries were written
by whoever sent the request and prove nothing. Both tracking (TRACKING_TRUSTED_PROXIES) and the web service
(WEB_TRUSTED_PROXIES) decide by this one rule."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from starlette.requests import Request

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOPBACK = ("127.0.0.1/32", "::1/128")
MAX_FORWARDED_CHARS = 4096  # an X-Forwarded-For longer than this is read only at its end


def _networks_valid(value: list[str]) -> list[str]:
    for network in value:
        ipaddress.ip_network(network, strict=False)  # its ValueError names the bad entry
    return value


# A setting's type: addresses or networks ("10.0.0.5", "10.0.0.0/8", "fd00::/8"), a JSON list in the environment.
TrustedProxies = Annotated[list[str], AfterValidator(_networks_valid)]


def trusted_proxies_field(description: str) -> Any:
    """The field of a TrustedProxies setting: loopback by default (a proxy on the same machine)."""
    return Field(default_factory=lambda: list(LOOPBACK), description=description)


def networks(entries: Iterable[str]) -> Networks:
    """A TrustedProxies setting's entries as networks ("10.0.0.5" is the network of that one address)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _address(text: str) -> IPAddress | None:
    """An address as a proxy writes it: bare, IPv6 in brackets, or either with a port ("[2001:db8::1]:443")."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address  # "::ffff:10.0.0.5", as a dual-stack socket reports it, is 10.0.0.5


def forwarded_client(peer: str, forwarded: str, trusted: Networks) -> str:
    """The client behind `peer`: the last address of `forwarded` (an X-Forwarded-For value) when `peer` is in
    `trusted`, else `peer` itself. A trusted peer that forwarded no usable address stands for itself."""
    direct = _address(peer)
    if direct is None or not any(direct in network for network in trusted):
        return peer
    last = _address(forwarded[-MAX_FORWARDED_CHARS:].rsplit(",", 1)[-1])
    return str(last) if last is not None else str(direct)


def client_address(request: Request, trusted: Networks) -> str:
    """The request's client address by the rule above ("unknown" when the server gave no peer). Several
    X-Forwarded-For lines read as one list, in order: a proxy may add its own line after the sender's."""
    peer = request.client.host if request.client else "unknown"
    return forwarded_client(peer, ", ".join(request.headers.getlist("x-forwarded-for")), trusted)
