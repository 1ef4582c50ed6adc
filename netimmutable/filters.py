"""Network filters and tests for templates: address and prefix helpers built on ``ipaddress``.

Examples:
    >>> address("10.255.12.1/30"), network("10.255.12.1/30"), prefixlen("10.255.12.1/30")
    ('10.255.12.1', '10.255.12.0/30', 30)
    >>> netmask("10.255.12.1/30"), peer_address("10.255.12.1/30"), peer_address("10.0.0.0/31")
    ('255.255.255.252', '10.255.12.2', '10.0.0.1')
    >>> is_ipv4("10.0.0.1"), is_ipv6("2001:db8::1/64"), is_ipv4("r1")
    (True, True, False)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

__all__ = ["FILTERS", "TESTS", "address", "netmask", "network", "peer_address", "prefixlen"]


def _interface(value: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    try:
        return ipaddress.ip_interface(str(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address or address/prefix") from None


def address(value: Any) -> str:
    """The address part of ``address/prefix``."""
    return str(_interface(value).ip)


def network(value: Any) -> str:
    """The network of ``address/prefix``, as ``network/prefix``."""
    return str(_interface(value).network)


def prefixlen(value: Any) -> int:
    return _interface(value).network.prefixlen


def netmask(value: Any) -> str:
    return str(_interface(value).network.netmask)


def peer_address(value: Any) -> str:
    """The other end of a point-to-point link (/30, /31 for IPv4; /126, /127 for IPv6)."""
    iface = _interface(value)
    net = iface.network
    if net.num_addresses == 2:
        hosts = [net.network_address, net.broadcast_address]
    elif net.num_addresses == 4:
        # the two middle addresses (IPv6 hosts() would also count the last one of a /126)
        hosts = [net.network_address + 1, net.network_address + 2]
    else:
        raise ValueError(f"{value!r} is not a point-to-point prefix (/30, /31, /126, /127)")
    others = [h for h in hosts if h != iface.ip]
    if len(others) != 1:
        raise ValueError(f"{value!r}: the address is not a host of its point-to-point prefix")
    return str(others[0])


def _is_version(value: Any, version: int) -> bool:
    try:
        return _interface(value).version == version
    except ValueError:
        return False


def is_ipv4(value: Any) -> bool:
    return _is_version(value, 4)


def is_ipv6(value: Any) -> bool:
    return _is_version(value, 6)


FILTERS: dict[str, Callable[..., Any]] = {
    "address": address,
    "network": network,
    "prefixlen": prefixlen,
    "netmask": netmask,
    "peer_address": peer_address,
}
TESTS: dict[str, Callable[..., bool]] = {"ipv4": is_ipv4, "ipv6": is_ipv6}
