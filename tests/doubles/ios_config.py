"""The IOS double's config model: parse, validate and diff ``show running-config`` text.

Cisco IOS configuration files follow the indentation rules the Configuration Replace feature requires (one
space per submode level; Cisco, "Configuration Replace and Configuration Rollback", prerequisites:
https://www.cisco.com/c/en/us/td/docs/ios-xml/ios/config-mgmt/configuration/xe-3s/asr1000/config-mgmt-xe-3s-asr1000-book/cm-config-rollback.html).
The diff is the Contextual Configuration Diff Utility's form (``show archive config differences``: a
``Contextual Config Diffs:`` title, ``+``/``-`` before added/removed lines, parent mode lines shown for
context, ``!No changes were found`` when equal; Cisco, "Contextual Configuration Diff Utility":
http://www.cisco.com/en/US/docs/ios/12_3t/12_3t4/feature/guide/gt_diff.html), which napalm's
``IOSDriver.compare_config`` filters (napalm/ios/ios.py ``_normalize_compare_config``).

The double's validation rule: a top-level command whose first word (after an optional ``no``) is not in
``KNOWN_COMMANDS`` is invalid, and a file without a ``version`` line and a final ``end`` is not a valid config
file (napalm's docs/support/ios.rst: "IOS requires config file to begin with a `version` ... and `end` marker
at the end of the file. Otherwise IOS will reject `configure replace` operation").
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

__all__ = [
    "Bgp",
    "Interface",
    "Neighbor",
    "Node",
    "bgp",
    "body_of",
    "contextual_diff",
    "interfaces",
    "invalid_lines",
    "merge",
    "parse",
    "render",
]

HEADER = re.compile(
    r"^(Building configuration\.\.\.|Current configuration :.*|! Last configuration change at .*"
    r"|! NVRAM config last updated at .*|! No configuration change since last restart.*|Using \d+ out of .*)$"
)
KNOWN_COMMANDS = frozenset(
    [
        "aaa",
        "access-list",
        "alias",
        "archive",
        "banner",
        "boot",
        "boot-end-marker",
        "boot-start-marker",
        "bridge",
        "call-home",
        "cdp",
        "class-map",
        "clock",
        "control-plane",
        "crypto",
        "enable",
        "end",
        "errdisable",
        "exception",
        "file",
        "hostname",
        "interface",
        "ip",
        "ipv6",
        "key",
        "license",
        "line",
        "lldp",
        "logging",
        "login",
        "mac",
        "memory-size",
        "mpls",
        "multilink",
        "ntp",
        "object-group",
        "platform",
        "policy-map",
        "radius",
        "radius-server",
        "redundancy",
        "route-map",
        "router",
        "service",
        "snmp",
        "snmp-server",
        "spanning-tree",
        "subscriber",
        "tacacs",
        "tacacs-server",
        "username",
        "version",
        "vlan",
        "vrf",
        "vtp",
    ]
)


@dataclass
class Node:
    """One config line and the lines of its submode."""

    text: str
    children: list[Node] = field(default_factory=list)


def body_of(text: str) -> list[str]:
    """The config lines of a running-config / file text, without the volatile header lines."""
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    lines = [ln for ln in lines if not HEADER.match(ln)]
    while lines and lines[0] in ("", "!"):
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def parse(lines: list[str]) -> list[Node]:
    """The submode tree of ``lines`` (comments, blank lines and ``end`` left out)."""
    root = Node("")
    stack: list[tuple[int, Node]] = [(-1, root)]
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("!") or (stripped == "end" and not line.startswith(" ")):
            continue
        depth = len(line) - len(line.lstrip(" "))
        while stack[-1][0] >= depth:
            stack.pop()
        node = Node(stripped)
        stack[-1][1].children.append(node)
        stack.append((depth, node))
    return root.children


def render(nodes: list[Node], depth: int = 0) -> list[str]:
    out: list[str] = []
    for node in nodes:
        out.append(" " * depth + node.text)
        out.extend(render(node.children, depth + 1))
    return out


def invalid_lines(lines: list[str]) -> list[str]:
    """Top-level commands the double does not know (the lines a configure replace would reject)."""
    bad = []
    for node in parse(lines):
        words = node.text.split()
        word = words[1] if words[0] == "no" and len(words) > 1 else words[0]
        if word not in KNOWN_COMMANDS:
            bad.append(node.text)
    return bad


def is_valid_file(lines: list[str]) -> bool:
    stripped = [ln.strip() for ln in lines if ln.strip()]
    return bool(stripped) and stripped[-1] == "end" and any(ln.startswith("version ") for ln in stripped)


def contextual_diff(old: list[Node], new: list[Node], depth: int = 0) -> list[str]:
    """What turns ``old`` into ``new``, as ``show archive config differences`` lists it."""
    pad = " " * depth
    old_by_text = {n.text: n for n in old}
    new_by_text = {n.text: n for n in new}
    out: list[str] = []
    for node in old:
        if node.text not in new_by_text:
            out.extend(_marked(node, "-", depth))
    for node in new:
        before = old_by_text.get(node.text)
        if before is None:
            out.extend(_marked(node, "+", depth))
            continue
        inner = contextual_diff(before.children, node.children, depth + 1)
        if inner:
            out.append(pad + node.text)
            out.extend(inner)
    return out


def _marked(node: Node, mark: str, depth: int) -> list[str]:
    out = [" " * depth + mark + node.text]
    for child in node.children:
        out.extend(_marked(child, mark, depth + 1))
    return out


def merge(base: list[Node], extra: list[Node]) -> list[Node]:
    """``base`` with ``extra`` merged in (``copy <file> running-config``): lines added, ``no X`` removes X."""
    out = [Node(n.text, list(n.children)) for n in base]
    for node in extra:
        if node.text.startswith("no ") and not node.children:
            out = [n for n in out if n.text != node.text[3:]]
            continue
        same = next((n for n in out if n.text == node.text), None)
        if same is None:
            insert_at = len(out)
            out.insert(insert_at, Node(node.text, list(node.children)))
        else:
            same.children = merge(same.children, node.children)
    return out


# ------------------------------------------------------------------------------------ what the config says
@dataclass
class Interface:
    name: str
    description: str = ""
    addresses: list[ipaddress.IPv4Interface] = field(default_factory=list)
    shutdown: bool = False


@dataclass
class Neighbor:
    address: str
    remote_as: int
    description: str = ""
    shutdown: bool = False


@dataclass
class Bgp:
    asn: int
    router_id: str | None
    neighbors: list[Neighbor]


def interfaces(tree: list[Node]) -> list[Interface]:
    out = []
    for node in tree:
        if not node.text.startswith("interface "):
            continue
        iface = Interface(node.text.split(None, 1)[1])
        for child in node.children:
            words = child.text.split()
            if words[:2] == ["ip", "address"] and len(words) >= 4:
                try:
                    iface.addresses.append(ipaddress.IPv4Interface(f"{words[2]}/{words[3]}"))
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
    neighbors: dict[str, Neighbor] = {}
    extra: dict[str, dict[str, str | bool]] = {}
    for child in node.children:
        words = child.text.split()
        if words[:2] == ["bgp", "router-id"] and len(words) == 3:
            router_id = words[2]
        elif words[0] == "neighbor" and len(words) >= 3:
            addr = words[1]
            if words[2] == "remote-as" and len(words) == 4 and words[3].isdigit():
                neighbors[addr] = Neighbor(addr, int(words[3]))
            elif words[2] == "description":
                extra.setdefault(addr, {})["description"] = child.text.split(None, 3)[3]
            elif words[2] == "shutdown":
                extra.setdefault(addr, {})["shutdown"] = True
    for addr, attrs in extra.items():
        if addr in neighbors:
            neighbors[addr].description = str(attrs.get("description", ""))
            neighbors[addr].shutdown = bool(attrs.get("shutdown", False))
    if router_id is None:  # IOS: the highest loopback address, else the highest interface address
        ifaces = interfaces(tree)
        loops = [a.ip for i in ifaces if i.name.startswith("Loopback") for a in i.addresses]
        alls = loops or [a.ip for i in ifaces if not i.shutdown for a in i.addresses]
        router_id = str(max(alls)) if alls else None
    return Bgp(int(node.text.split()[2]), router_id, list(neighbors.values()))


def archive_path(tree: list[Node]) -> str | None:
    """The ``path`` of the ``archive`` block (the archive feature is enabled only with one)."""
    node = next((n for n in tree if n.text == "archive"), None)
    if node is None:
        return None
    return next((c.text.split(None, 1)[1] for c in node.children if c.text.startswith("path ")), None)


def has_line(tree: list[Node], text: str) -> bool:
    return any(n.text == text for n in tree)
