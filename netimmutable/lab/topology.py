"""The lab's network, derived from the repository's inventory.

One router per host of platform ``frr``; one veth pair per link, found from the hosts' ``interfaces``
entries (``name``, ``address``, ``peer``): an interface of host A with ``peer: B`` pairs with the
interface of B whose ``peer`` is A and whose address is in the same subnet. Every router also gets
``eth0`` on the management network 10.255.200.0/24.

Examples:
    >>> mgmt_address("10.255.200.7", 0)
    '10.255.200.7'
    >>> mgmt_address("r1.example.net", 2)
    '10.255.200.3'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from netimmutable.errors import LabError

__all__ = [
    "MGMT_GATEWAY",
    "MGMT_NETWORK",
    "LabLink",
    "LabRouter",
    "LabTopology",
    "build_topology",
    "mgmt_address",
]

MGMT_NETWORK = ipaddress.IPv4Network("10.255.200.0/24")
MGMT_GATEWAY = "10.255.200.254"
"""The management address of the root namespace (one end of a veth into the lab's management bridge)."""
MAX_IFNAME = 15


@dataclass(frozen=True, slots=True)
class LabRouter:
    name: str
    mgmt_address: str
    bgp_peers: int
    """How many BGP sessions the inventory configures on this router."""


@dataclass(frozen=True, slots=True)
class LabLink:
    a: str
    a_ifname: str
    b: str
    b_ifname: str


@dataclass(frozen=True, slots=True)
class LabTopology:
    routers: tuple[LabRouter, ...]
    links: tuple[LabLink, ...]

    def router(self, name: str) -> LabRouter:
        for router in self.routers:
            if router.name == name:
                return router
        raise KeyError(name)


def mgmt_address(hostname: str | None, index: int) -> str:
    """The inventory hostname when it is a usable address of the management network, else .(index+1)."""
    try:
        addr = ipaddress.IPv4Address(hostname or "")
    except ValueError:
        addr = None
    if addr is not None and addr in MGMT_NETWORK and str(addr) != MGMT_GATEWAY and addr != MGMT_NETWORK[0]:
        return str(addr)
    return str(MGMT_NETWORK[index + 1])


def _interfaces(name: str, data: Any) -> list[Mapping[str, Any]]:
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(i, Mapping) for i in data):
        raise LabError(f"host {name}: `interfaces` must be a list of mappings")
    for item in data:
        ifname = str(item.get("name", ""))
        if not ifname or len(ifname) > MAX_IFNAME or "/" in ifname or ifname in ("lo", "eth0"):
            raise LabError(f"host {name}: interface name {ifname!r} cannot be used in the lab")
    return list(data)


def build_topology(hosts: Iterable[tuple[str, str | None, Mapping[str, Any]]]) -> LabTopology:
    """``hosts``: (name, inventory hostname, data after inheritance) of each FRR host, in order."""
    routers: list[LabRouter] = []
    ifaces: dict[str, list[Mapping[str, Any]]] = {}
    for index, (name, hostname, data) in enumerate(hosts):
        neighbors = data.get("bgp_neighbors") or []
        routers.append(LabRouter(name, mgmt_address(hostname, index), len(neighbors)))
        ifaces[name] = _interfaces(name, data.get("interfaces"))
    if len({r.mgmt_address for r in routers}) != len(routers):
        raise LabError("two lab routers would share a management address; fix the inventory hostnames")
    links: list[LabLink] = []
    used: set[tuple[str, str]] = set()
    for a, a_ifaces in ifaces.items():
        for a_if in a_ifaces:
            b = a_if.get("peer")
            if b is None or (a, str(a_if["name"])) in used:
                continue
            b = str(b)
            if b not in ifaces:
                raise LabError(f"host {a}: interface {a_if['name']} names peer {b!r}, not an frr host")
            b_if = _matching(a, a_if, b, ifaces[b], used)
            used.update({(a, str(a_if["name"])), (b, str(b_if["name"]))})
            links.append(LabLink(a, str(a_if["name"]), b, str(b_if["name"])))
    return LabTopology(tuple(routers), tuple(links))


def _subnet(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if value is None:
        return None
    return ipaddress.ip_interface(str(value)).network


def _matching(
    a: str, a_if: Mapping[str, Any], b: str, b_ifaces: list[Mapping[str, Any]], used: set[tuple[str, str]]
) -> Mapping[str, Any]:
    net = _subnet(a_if.get("address"))
    for cand in b_ifaces:
        if cand.get("peer") != a or (b, str(cand["name"])) in used:
            continue
        if net is None or _subnet(cand.get("address")) == net:
            return cand
    raise LabError(
        f"host {a}: interface {a_if['name']} goes to {b}, but {b} has no interface back to {a}"
        + (f" in {net}" if net else "")
    )
