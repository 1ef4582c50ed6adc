"""FRR-syntax configuration text for the ``sim`` driver: canonical form, syntax check, merge, model.

The simulated router speaks the configuration language of FRR (it stands in for the example FRR routers),
so the same snapshots load on both. This module is pure: text in, text or frozen models out.

Examples:
    >>> canonical("hostname r1   \\n\\n\\n")
    'hostname r1\\n'
    >>> m = model_of("interface eth0\\n ip address 10.0.0.1/30\\nexit\\n"
    ...              "router bgp 65001\\n network 10.1.0.0/24\\nexit\\n")
    >>> m.interfaces[0].ipv4, m.bgp[0].asn, m.bgp[0].networks_v4
    ((('10.0.0.1', 30),), 65001, 1)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "BgpInstance",
    "BgpNeighbor",
    "ConfigSyntaxError",
    "Interface",
    "Model",
    "Node",
    "canonical",
    "check_syntax",
    "merge",
    "model_of",
    "parse",
    "render",
]

CLOSERS = frozenset({"exit", "exit-address-family", "exit-vrf", "quit", "end"})

# First words FRR accepts at the top level of an integrated config (vtysh.conf/frr.conf).
TOP_LEVEL = frozenset(
    {
        "frr",
        "hostname",
        "domainname",
        "log",
        "service",
        "password",
        "enable",
        "banner",
        "line",
        "interface",
        "router",
        "ip",
        "ipv6",
        "route-map",
        "bgp",
        "access-list",
        "debug",
        "agentx",
        "vrf",
        "key",
        "bfd",
        "segment-routing",
        "mpls",
        "no",
        "end",
        "exit",
        "nexthop-group",
        "pbr-map",
        "zebra",
        "fpm",
        "table",
        "username",
        "allow-external-route-update",
        "bmp",
        "rpki",
        "mac",
        "evpn",
        "srv6",
        "affinity-map",
        "pseudowire",
        "l2vpn",
        "ldp",
        "ospf",
    }
)
INTERFACE_WORDS = frozenset(
    {
        "ip",
        "ipv6",
        "description",
        "shutdown",
        "no",
        "mtu",
        "bandwidth",
        "link-detect",
        "multicast",
        "evpn",
        "isis",
        "bfd",
        "link-params",
        "mpls",
        "pbr-policy",
        "openfabric",
        "pim",
        "vrrp",
    }
)
BGP_WORDS = frozenset(
    {
        "bgp",
        "neighbor",
        "network",
        "address-family",
        "no",
        "timers",
        "redistribute",
        "maximum-paths",
        "aggregate-address",
        "distance",
        "table-map",
        "coalesce-time",
        "update-delay",
        "read-quanta",
        "write-quanta",
        "import",
        "export",
        "rd",
        "rt",
        "label",
        "advertise-all-vni",
        "advertise-svi-ip",
        "advertise",
        "default-originate",
        "segment-routing",
        "sid",
        "distribute-list",
    }
)
NEIGHBOR_WORDS = frozenset(
    {
        "remote-as",
        "peer-group",
        "description",
        "shutdown",
        "timers",
        "route-map",
        "prefix-list",
        "activate",
        "update-source",
        "ebgp-multihop",
        "password",
        "next-hop-self",
        "soft-reconfiguration",
        "interface",
        "bfd",
        "capability",
        "local-as",
        "allowas-in",
        "send-community",
        "maximum-prefix",
        "default-originate",
        "route-reflector-client",
        "remove-private-AS",
        "weight",
        "passive",
        "ttl-security",
        "advertisement-interval",
        "filter-list",
        "distribute-list",
        "unsuppress-map",
        "addpath-tx-all-paths",
        "as-override",
        "attribute-unchanged",
        "enforce-first-as",
        "port",
        "solo",
        "strict-capability-match",
        "override-capability",
        "dont-capability-negotiate",
        "disable-connected-check",
        "graceful-restart",
        "extended-optional-parameters",
        "sender-as-path-loop-detection",
    }
)
MAX_ASN = 4_294_967_295


class ConfigSyntaxError(ValueError):
    """A line the simulated device refuses; ``line`` is 1-based in the text as given."""

    def __init__(self, line: int, text: str, reason: str) -> None:
        self.line = line
        self.text = text
        self.reason = reason
        super().__init__(f"line {line}: % {reason}: {text.strip()}")


@dataclass(slots=True)
class Node:
    """One configuration line with its indented children and the closer that ends its block."""

    line: str
    children: list[Node] = field(default_factory=list)
    closer: str | None = None
    lineno: int = 0

    @property
    def key(self) -> str:
        return self.line.strip()


def canonical(text: str) -> str:
    """Strip trailing whitespace on every line and at the end; end with exactly one newline."""
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def parse(text: str) -> list[Node]:
    """Parse into a forest: children are the following lines indented deeper, closers attach to blocks."""
    raw = [(i + 1, ln.rstrip()) for i, ln in enumerate(text.replace("\r\n", "\n").split("\n"))]
    items = [(n, ln) for n, ln in raw if ln.strip()]
    pos = 0

    def level(depth_min: int) -> list[Node]:
        nonlocal pos
        nodes: list[Node] = []
        base: int | None = None
        while pos < len(items):
            n, ln = items[pos]
            ind = _indent(ln)
            if ind < depth_min:
                break
            if base is None or ind < base:  # first line, or dedented below its siblings: a new level base
                base = ind
            if ind > base:  # deeper than its siblings: a child of the last node while that block is open
                if nodes and nodes[-1].closer is None:
                    nodes[-1].children.extend(level(ind))
                    continue
                base = ind
            pos += 1
            node = Node(ln, lineno=n)
            if pos < len(items) and _indent(items[pos][1]) > ind:
                node.children = level(_indent(items[pos][1]))
            if (
                pos < len(items)
                and _indent(items[pos][1]) == ind
                and items[pos][1].strip() in CLOSERS
                and (node.children or _opens_block(node.key))
            ):
                node.closer = items[pos][1]
                pos += 1
            nodes.append(node)
        return nodes

    return level(0)


def _opens_block(key: str) -> bool:
    first = key.split(" ", 1)[0]
    return first in {
        "interface",
        "router",
        "route-map",
        "line",
        "vrf",
        "key",
        "address-family",
        "bfd",
        "segment-routing",
        "nexthop-group",
        "pbr-map",
        "rpki",
        "bmp",
        "ldp",
        "l2vpn",
        "mpls",
    }


def render(nodes: list[Node]) -> str:
    """Inverse of :func:`parse` (up to blank lines and trailing whitespace)."""
    out: list[str] = []

    def emit(ns: list[Node]) -> None:
        for node in ns:
            out.append(node.line)
            emit(node.children)
            if node.closer is not None:
                out.append(node.closer)

    emit(nodes)
    return canonical("\n".join(out))


# ---------------------------------------------------------------------------------------------- syntax
def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_prefix(text: str, version: int | None = None) -> bool:
    try:
        net = ipaddress.ip_interface(text)
    except ValueError:
        return False
    return "/" in text and (version is None or net.version == version)


def _asn_ok(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= MAX_ASN


def _walk(nodes: list[Node], ctx: tuple[str, ...] = ()) -> Iterator[tuple[Node, tuple[str, ...]]]:
    for node in nodes:
        yield node, ctx
        yield from _walk(node.children, (*ctx, node.key))


def _check_line(node: Node, ctx: tuple[str, ...]) -> str | None:  # noqa: PLR0911, PLR0912
    """Return the device's complaint about one line, or None when it is accepted."""
    words = node.key.split()
    first = words[0]
    if first.startswith("!"):
        return None
    top = ctx[0].split()[0] if ctx else ""
    inner = ctx[-1].split()[0] if ctx else ""
    if not ctx:
        if first not in TOP_LEVEL:
            return "Unknown command"
        if first == "hostname" and len(words) != 2:
            return "Command incomplete" if len(words) < 2 else "Unknown command"
        if first == "router" and len(words) >= 2 and words[1] == "bgp":
            return None if len(words) >= 3 and _asn_ok(words[2]) else "Invalid AS number"
        if first in {"ip", "ipv6"} and len(words) >= 2 and words[1] == "route":
            ok = len(words) >= 4 and _is_prefix(words[2], 4 if first == "ip" else 6)
            return None if ok else "Malformed route"
        return None
    if top == "interface" and len(ctx) == 1:
        if first not in INTERFACE_WORDS:
            return "Unknown command"
        if first in {"ip", "ipv6"} and len(words) >= 2 and words[1] == "address":
            ok = len(words) == 3 and _is_prefix(words[2], 4 if first == "ip" else 6)
            return None if ok else "Malformed address"
        if first == "mtu":
            return None if len(words) == 2 and words[1].isdigit() else "Invalid MTU"
        return None
    if top == "router" and ctx[0].split()[1:2] == ["bgp"]:
        if first not in BGP_WORDS:
            return "Unknown command"
        if first == "network":
            return None if len(words) >= 2 and _is_prefix(words[1]) else "Malformed prefix"
        if first == "bgp" and words[1:2] == ["router-id"]:
            return None if len(words) == 3 and _is_ip(words[2]) else "Malformed router-id"
        if first == "neighbor":
            if len(words) < 3 or words[2] not in NEIGHBOR_WORDS:
                return "Unknown command"
            if words[2] == "remote-as":
                ok = len(words) == 4 and (_asn_ok(words[3]) or words[3] in {"internal", "external"})
                return None if ok else "Invalid AS number"
        if first == "address-family" and inner == "router":
            return None if len(words) >= 2 and words[1] in {"ipv4", "ipv6", "l2vpn"} else "Unknown command"
        return None
    return None


def check_syntax(text: str) -> None:
    """Raise :class:`ConfigSyntaxError` for the first line FRR would refuse (a subset of its grammar)."""
    for node, ctx in _walk(parse(text)):
        reason = _check_line(node, ctx)
        if reason is not None:
            raise ConfigSyntaxError(node.lineno, node.line, reason)


# ---------------------------------------------------------------------------------------------- merge
def _negation(key: str) -> str:
    return key[3:] if key.startswith("no ") else f"no {key}"


def _merge_into(target: list[Node], incoming: list[Node], nested: bool = False) -> None:
    for new in incoming:
        existing = next((n for n in target if n.key == new.key), None)
        if existing is not None:
            if new.children:
                _merge_into(existing.children, new.children, nested=True)
                existing.closer = existing.closer or new.closer
            continue
        if not new.children and new.closer is None:
            opposite = next((n for n in target if n.key == _negation(new.key)), None)
            if opposite is not None:
                target.remove(opposite)
                if new.key.startswith("no "):
                    continue
        at = len(target)
        if at and target[-1].key == "end":
            at -= 1
        if nested and not new.children and new.closer is None:  # in a block, lines go before sub-blocks
            first_block = next((i for i, n in enumerate(target) if n.children or n.closer is not None), None)
            if first_block is not None:
                at = first_block
                while at and target[at - 1].key == "!":
                    at -= 1
        target.insert(at, Node(new.line, children=list(new.children), closer=new.closer))


def merge(running: str, addition: str) -> str:
    """Merge ``addition`` into ``running`` the way a device applies pasted lines.

    Blocks with the same header merge recursively; a new line is appended at the end of its block; ``no X``
    removes ``X`` (and ``X`` replaces ``no X``).

    Examples:
        >>> merge("router bgp 1\\n neighbor 10.0.0.2 remote-as 2\\nexit\\n",
        ...       "router bgp 1\\n network 10.9.0.0/24\\n")
        'router bgp 1\\n neighbor 10.0.0.2 remote-as 2\\n network 10.9.0.0/24\\nexit\\n'
        >>> merge("interface eth0\\n shutdown\\nexit\\n", "interface eth0\\n no shutdown\\n")
        'interface eth0\\nexit\\n'
    """
    tree = parse(running)
    _merge_into(tree, parse(addition))
    return render(tree)


# ---------------------------------------------------------------------------------------------- model
@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    enabled: bool
    description: str
    mtu: int
    ipv4: tuple[tuple[str, int], ...]
    ipv6: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class BgpNeighbor:
    address: str
    remote_as: str  # a number, "internal", "external" or "" (not configured)
    shutdown: bool
    description: str
    import_policy: str
    export_policy: str
    keepalive: int = 60
    """Configured keepalive and hold time (seconds): ``neighbor X timers K H``, else ``timers bgp K H``,
    else FRR's defaults (60, 180)."""
    hold: int = 180


@dataclass(frozen=True, slots=True)
class BgpInstance:
    asn: int
    vrf: str  # "global" for the default VRF
    router_id: str
    neighbors: tuple[BgpNeighbor, ...]
    networks_v4: int
    networks_v6: int

    def neighbor(self, address: str) -> BgpNeighbor | None:
        return next((n for n in self.neighbors if n.address == address), None)


@dataclass(frozen=True, slots=True)
class Model:
    hostname: str | None
    interfaces: tuple[Interface, ...]
    bgp: tuple[BgpInstance, ...]

    def addresses(self) -> tuple[str, ...]:
        """Every interface address (enabled or not): the keys of the lab's address index."""
        return tuple(ip for i in self.interfaces for ip, _ in (*i.ipv4, *i.ipv6))

    def interface_of(self, address: str) -> Interface | None:
        return next((i for i in self.interfaces for ip, _ in (*i.ipv4, *i.ipv6) if ip == address), None)


def _interface(node: Node) -> Interface:
    name = node.key.split()[1] if len(node.key.split()) > 1 else ""
    enabled, desc, mtu = True, "", 1500
    v4: list[tuple[str, int]] = []
    v6: list[tuple[str, int]] = []
    for child in node.children:
        w = child.key.split()
        if w == ["shutdown"]:
            enabled = False
        elif w == ["no", "shutdown"]:
            enabled = True
        elif w[0] == "description":
            desc = child.key[len("description") :].strip()
        elif w[0] == "mtu" and len(w) == 2 and w[1].isdigit():
            mtu = int(w[1])
        elif w[:2] in (["ip", "address"], ["ipv6", "address"]) and len(w) == 3 and _is_prefix(w[2]):
            iface = ipaddress.ip_interface(w[2])
            (v4 if iface.version == 4 else v6).append((str(iface.ip), iface.network.prefixlen))
    return Interface(name, enabled, desc, mtu, tuple(v4), tuple(v6))


def _bgp(node: Node) -> BgpInstance:
    words = node.key.split()
    vrf = words[4] if len(words) >= 5 and words[3] == "vrf" else "global"
    router_id = ""
    attrs: dict[str, dict[str, str]] = {}
    order: list[str] = []
    nets = {4: 0, 6: 0}
    timers = {"keepalive": "60", "hold": "180"}

    def neighbor_line(w: list[str]) -> None:
        name = w[1]
        if name not in attrs:
            attrs[name] = {}
            order.append(name)
        a = attrs[name]
        verb = w[2] if len(w) > 2 else ""
        if verb == "remote-as" and len(w) == 4:
            a["remote_as"] = w[3]
        elif verb == "peer-group":
            a["group"] = w[3] if len(w) == 4 else ""
        elif verb == "shutdown":
            a["shutdown"] = "1"
        elif verb == "description":
            a["description"] = " ".join(w[3:])
        elif verb == "route-map" and len(w) == 5:
            a["import" if w[4] == "in" else "export"] = w[3]
        elif verb == "timers" and len(w) == 5 and w[3].isdigit() and w[4].isdigit():
            a["keepalive"], a["hold"] = w[3], w[4]

    def scan(children: list[Node]) -> None:
        nonlocal router_id
        for child in children:
            w = child.key.split()
            if w[:2] == ["bgp", "router-id"] and len(w) == 3:
                router_id = w[2]
            elif w[:2] == ["timers", "bgp"] and len(w) == 4 and w[2].isdigit() and w[3].isdigit():
                timers.update(keepalive=w[2], hold=w[3])
            elif w[0] == "neighbor" and len(w) >= 3:
                neighbor_line(w)
            elif w[0] == "network" and len(w) >= 2 and _is_prefix(w[1]):
                nets[ipaddress.ip_network(w[1], strict=False).version] += 1
            elif w[0] == "address-family":
                scan(child.children)

    scan(node.children)
    neighbors = []
    for name in order:
        if not _is_ip(name):
            continue  # peer-group names and interface (unnumbered) neighbours are not keyed by address
        a = attrs[name]
        g = attrs.get(a.get("group", ""), {})
        neighbors.append(
            BgpNeighbor(
                address=str(ipaddress.ip_address(name)),
                remote_as=a.get("remote_as", g.get("remote_as", "")),
                shutdown="shutdown" in a or "shutdown" in g,
                description=a.get("description", g.get("description", "")),
                import_policy=a.get("import", g.get("import", "")),
                export_policy=a.get("export", g.get("export", "")),
                keepalive=int(a.get("keepalive", g.get("keepalive", timers["keepalive"]))),
                hold=int(a.get("hold", g.get("hold", timers["hold"]))),
            )
        )
    return BgpInstance(int(words[2]), vrf, router_id, tuple(neighbors), nets[4], nets[6])


@lru_cache(maxsize=16384)
def model_of(text: str) -> Model:
    """The device model a configuration describes (cached by text: peers are read often, change rarely)."""
    hostname: str | None = None
    interfaces: list[Interface] = []
    bgp: list[BgpInstance] = []
    for node in parse(text):
        w = node.key.split()
        if w[0] == "hostname" and len(w) == 2:
            hostname = w[1]
        elif w[0] == "interface" and len(w) >= 2:
            interfaces.append(_interface(node))
        elif w[:2] == ["router", "bgp"] and len(w) >= 3 and _asn_ok(w[2]):
            bgp.append(_bgp(node))
    return Model(hostname, tuple(interfaces), tuple(bgp))


_SECRET = re.compile(r"(\b(?:password|secret|key-string|authentication-key)\s+(?:\d\s+)?)\S+")


def sanitize(text: str) -> str:
    """Mask secrets the way ``get_config(sanitized=True)`` should.

    Examples:
        >>> sanitize(" neighbor 10.0.0.2 password s3cret\\n")
        ' neighbor 10.0.0.2 password <removed>\\n'
    """
    return _SECRET.sub(r"\1<removed>", text)
