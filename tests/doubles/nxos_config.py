"""The NX-OS double's config model: ``show running-config`` text, its rollback patch, and what it declares.

NX-OS indents submodes by two spaces (the tree is ``tests.doubles.ios_config.parse``, which keys on the
indentation). ``show diff rollback-patch file <a> file <b>`` lists the commands that turn ``a`` into ``b``
(``no <line>`` for a line only ``a`` has, the line for one only ``b`` has, parent mode lines for context),
after a ``Generating Rollback Patch`` title, or ``Rollback Patch is Empty`` (the strings napalm's
``NXOSDriverBase._get_diff`` splits on; Cisco, "Cisco Nexus 9000 Series NX-OS System Management
Configuration Guide", Configuring Rollback:
https://cisco.com/c/en/us/td/docs/switches/datacenter/nexus9000/sw/105x/config-guides/cisco-nexus-9000-series-nx-os-system-management-configuration-guide-release-105x/m-configuring-rollback-10x.html).

The double's validation rule: a top-level command whose first word (after ``no``) is not in
``KNOWN_COMMANDS`` is rejected, and an atomic rollback (the default type) with any rejected line is not
applied at all.
"""

from __future__ import annotations

import ipaddress
import re

from tests.doubles.ios_config import Bgp, Interface, Neighbor, Node, parse

__all__ = ["bgp", "body_of", "interfaces", "invalid_lines", "rollback_patch"]

HEADER = re.compile(
    r"^!(Command: .*|Time: .*|Running configuration last done at: .*|Startup config saved at: .*)$"
)
KNOWN_COMMANDS = frozenset(
    """aaa banner boot callhome cdp class-map copp feature hardware hostname interface ip ipv6 key license
    line lldp logging ntp nxapi policy-map power rmon route-map router snmp-server spanning-tree ssh system
    tacacs-server telnet username version vlan vrf""".split()  # noqa: SIM905 - a readable word list
)


def body_of(text: str) -> list[str]:
    """The config lines of a running-config / checkpoint text, without its ``!Command:`` etc. header."""
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    lines = [ln for ln in lines if not HEADER.match(ln)]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def invalid_lines(lines: list[str]) -> list[str]:
    bad = []
    for node in parse(lines):
        words = node.text.split()
        word = words[1] if words[0] == "no" and len(words) > 1 else words[0]
        if word not in KNOWN_COMMANDS:
            bad.append(node.text)
    return bad


def rollback_patch(old: list[Node], new: list[Node], depth: int = 0) -> list[str]:
    """The commands that turn ``old`` into ``new`` (``show diff rollback-patch``)."""
    pad = "  " * depth
    old_by_text = {n.text: n for n in old}
    new_by_text = {n.text: n for n in new}
    out = [f"{pad}no {n.text}" for n in old if n.text not in new_by_text]
    for node in new:
        before = old_by_text.get(node.text)
        if before is None:
            out.append(pad + node.text)
            out.extend(_rendered(node.children, depth + 1))
            continue
        inner = rollback_patch(before.children, node.children, depth + 1)
        if inner:
            out.append(pad + node.text)
            out.extend(inner)
    return out


def _rendered(nodes: list[Node], depth: int) -> list[str]:
    out = []
    for node in nodes:
        out.append("  " * depth + node.text)
        out.extend(_rendered(node.children, depth + 1))
    return out


def interfaces(tree: list[Node]) -> list[Interface]:
    out = []
    for node in tree:
        if not node.text.startswith("interface "):
            continue
        iface = Interface(node.text.split(None, 1)[1])
        for child in node.children:
            words = child.text.split()
            if words[:2] == ["ip", "address"] and len(words) >= 3:
                try:
                    iface.addresses.append(ipaddress.IPv4Interface(words[2]))
                except ValueError:
                    continue
            elif words[0] == "description":
                iface.description = child.text.split(None, 1)[1] if len(words) > 1 else ""
            elif words == ["shutdown"]:
                iface.shutdown = True
        out.append(iface)
    return out


def bgp(tree: list[Node]) -> Bgp | None:
    node = next((n for n in tree if re.fullmatch(r"router bgp \d+", n.text)), None)
    if node is None:
        return None
    router_id = None
    neighbors = []
    for child in node.children:
        words = child.text.split()
        if words[0] == "router-id" and len(words) == 2:
            router_id = words[1]
        elif words[0] == "neighbor" and len(words) == 2:
            attrs = {c.text.split()[0]: c.text for c in child.children}
            remote = attrs.get("remote-as", "").split()
            if len(remote) == 2 and remote[1].isdigit():
                nbr = Neighbor(words[1], int(remote[1]), shutdown="shutdown" in attrs)
                desc = attrs.get("description", "").split(None, 1)
                nbr.description = desc[1] if len(desc) == 2 else ""
                neighbors.append(nbr)
    if router_id is None:
        ifaces = interfaces(tree)
        loops = [a.ip for i in ifaces if i.name.startswith("loopback") for a in i.addresses]
        alls = loops or [a.ip for i in ifaces if not i.shutdown for a in i.addresses]
        router_id = str(max(alls)) if alls else None
    return Bgp(int(node.text.split()[2]), router_id, neighbors)
