"""Which hosts of a window are neighbours, read from their rendered configs: a shared link (interface
addresses in one subnet) or a BGP session (a ``neighbor`` address that is another host's interface address).

Changing two neighbours at once hides the cause of a failure: a session between them drops while both
change, and each one's regression check blames its own change. So a change window does not put neighbours
that both change into one batch (``--allow-adjacent`` allows it), and a regression on a session whose far end
changed in the same batch names that host.

Addresses are found the way the common syntaxes write them (IOS, EOS, NX-OS, FRR: ``ip address A/LEN`` or
``ip address A MASK``; IOS-XR: ``ipv4 address A MASK``; Junos: ``address A/LEN;``; ``neighbor A``), IPv4 and
IPv6. Not links: host routes (/32, /128), loopbacks, link-local addresses, and subnets shared by more than
``MAX_LINK_HOSTS`` hosts of the window (a management or server LAN would make every host a neighbour of every
other and each window one host at a time).

Examples:
    >>> r1 = "interface eth1\\n ip address 10.0.12.1/30\\nrouter bgp 1\\n neighbor 10.0.12.2 remote-as 2\\n"
    >>> r2 = "interface eth1\\n ip address 10.0.12.2 255.255.255.252\\n"
    >>> r3 = "interface lo\\n ip address 10.0.255.3/32\\n"
    >>> sorted(adjacency({"r1": r1, "r2": r2, "r3": r3})["r1"])
    ['r2']
    >>> peer_hosts({"r1": r1, "r2": r2})["r1"]
    {'10.0.12.2': 'r2'}
    >>> batches_apart(["r1", "r2", "r3"], 3, adjacency({"r1": r1, "r2": r2, "r3": r3}), {"r1", "r2", "r3"})
    (('r1', 'r3'), ('r2',))
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterator, Mapping, Sequence

from netimmutable.failures import FailureKind, kind_of, neighbour_of

__all__ = ["adjacency", "batches_apart", "blame_far_end", "peer_hosts"]

_CIDR = re.compile(r"^\s*(?:ip(?:v4|v6)?\s+)?address\s+([0-9A-Fa-f:.]+/\d{1,3})\b", re.MULTILINE)
_MASK = re.compile(r"^\s*ip(?:v4)?\s+address\s+(\d+\.\d+\.\d+\.\d+)\s+(\d+\.\d+\.\d+\.\d+)\b", re.MULTILINE)
_NEIGHBOR = re.compile(r"^\s*neighbor\s+([0-9A-Fa-f:.]+)(?:[\s;]|$)", re.MULTILINE)
MAX_LINK_HOSTS = 4
"""A subnet with more hosts of the window than this is not taken as a link between them (see above)."""

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


def _interfaces(config: str) -> Iterator[Interface]:
    for match in _CIDR.finditer(config):
        try:
            yield ipaddress.ip_interface(match.group(1))
        except ValueError:
            continue
    for match in _MASK.finditer(config):
        try:
            yield ipaddress.ip_interface(f"{match.group(1)}/{match.group(2)}")
        except ValueError:
            continue


def _neighbors(config: str) -> set[str]:
    out = set()
    for match in _NEIGHBOR.finditer(config):
        try:
            out.add(str(ipaddress.ip_address(match.group(1))))
        except ValueError:
            continue
    return out


def _links(configs: Mapping[str, str]) -> tuple[dict[str, str], dict[str, set[str]]]:
    """(interface address -> host, subnet -> hosts) of every host's point-to-point and LAN interfaces."""
    owner: dict[str, str] = {}
    subnets: dict[str, set[str]] = {}
    for host, config in configs.items():
        for iface in _interfaces(config):
            if iface.ip.is_link_local:  # the same fe80::/64 on every interface of every router
                continue
            owner.setdefault(str(iface.ip), host)
            if iface.network.prefixlen < iface.max_prefixlen and not iface.ip.is_loopback:
                subnets.setdefault(str(iface.network), set()).add(host)
    return owner, {net: hosts for net, hosts in subnets.items() if len(hosts) <= MAX_LINK_HOSTS}


def peer_hosts(configs: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """host -> {BGP neighbour address -> the host of the window that owns that address}."""
    owner, _ = _links(configs)
    out: dict[str, dict[str, str]] = {}
    for host, config in configs.items():
        far = {a: owner[a] for a in _neighbors(config) if a in owner and owner[a] != host}
        if far:
            out[host] = far
    return out


def adjacency(configs: Mapping[str, str]) -> dict[str, set[str]]:
    """host -> the hosts it shares a link (a subnet) or a BGP session with (symmetric)."""
    _, subnets = _links(configs)
    adjacent: dict[str, set[str]] = {host: set() for host in configs}
    for members in subnets.values():
        for host in members:
            adjacent[host] |= members - {host}
    for host, far in peer_hosts(configs).items():
        for other in far.values():
            adjacent[host].add(other)
            adjacent[other].add(host)
    return adjacent


def batches_apart(
    hosts: Sequence[str], size: int, adjacent: Mapping[str, Collection[str]], changing: Collection[str]
) -> tuple[tuple[str, ...], ...]:
    """``hosts`` in batches of at most ``size``, in order, no two changing neighbours in one batch.

    Each host goes into the first batch with room and no changing neighbour of it (greedy, so the order of
    ``hosts`` is kept as far as the constraint allows); hosts that do not change go anywhere.
    """
    batches: list[list[str]] = []
    size = max(1, size)
    for host in hosts:
        near = set(adjacent.get(host, ())) & set(changing) if host in changing else set()
        for batch in batches:
            if len(batch) < size and not near.intersection(batch):
                batch.append(host)
                break
        else:
            batches.append([host])
    return tuple(tuple(b) for b in batches)


def blame_far_end(
    failures: Sequence[str], far_ends: Mapping[str, str], alongside: Collection[str] = ()
) -> tuple[str, ...]:
    """``failures`` with the hosts changed in the same batch named where they may be the cause: the far end
    of a BGP session that regressed; for lost prefixes on another session, every host changed alongside (a
    route can come from further away than one hop).

    Examples:
        >>> from netimmutable.failures import Failure, FailureKind
        >>> lost = Failure("regression: BGP neighbour 10.0.12.2 (AS 2) received 3 prefixes before the "
        ...                "change, 1 now", FailureKind.PREFIXES_LOST, "10.0.12.2")
        >>> blame_far_end([lost], {"10.0.12.2": "r2"})[0][-42:]
        '(its far end r2 changed in the same batch)'
        >>> blame_far_end([lost], {}, ["r3"])[0].endswith("(also changed in this batch: r3)")
        True
    """
    out = []
    for failure in failures:
        kind, address = kind_of(failure), neighbour_of(failure)
        host = far_ends.get(address) if address and kind is not FailureKind.OTHER else None
        note = ""
        if host:
            note = f" (its far end {host} changed in the same batch)"
        elif kind is FailureKind.PREFIXES_LOST and alongside:
            note = f" (also changed in this batch: {', '.join(sorted(alongside))})"
        out.append(failure + note)
    return tuple(out)
