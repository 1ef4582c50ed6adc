"""Lines FRR never shows: configuration lines that only restate FRR's default, so ``show running-config``
omits them and they can never match text, and frr-reload.py's ``--test`` lists them as still to add after
every reload (a full replace that contains one "does not converge", forever).

Pure data and pure functions (no napalm): render warns about such lines (``render --check`` and ``commit``
name host, template and line), and the ``frr`` driver's convergence check and ``compare_config`` drop them
from frr-reload.py's "Lines To Add" (a default line in the artifact, absent from the device, is equal).

The table was measured on FRR 8.4.4 (Debian 12, the lab's routers): each line was configured with vtysh,
accepted (exit 0, no ``%`` message) and absent from ``show running-config`` afterwards. Which defaults a
router applies depends on the ``frr defaults`` profile (``traditional`` unless the config says
``datacenter``) and, for some, on the ``frr version`` the config was written for: FRR's
``FRR_CFG_DEFAULT_BOOL`` / ``FRR_CFG_DEFAULT_ULONG`` tables in ``bgpd/bgp_vty.c`` (e.g.
``BGP_EBGP_REQUIRES_POLICY`` true from 7.4, ``BGP_IMPORT_CHECK`` true from 7.4,
``BGP_SUPPRESS_DUPLICATES`` true from 7.6, ``BGP_LOG_NEIGHBOR_CHANGES`` and
``BGP_DETERMINISTIC_MED`` true and keepalive/hold 3/9 under ``datacenter``, 60/180 otherwise).
``ip forwarding`` is the default where the kernel forwards (zebra shows only ``no ip forwarding``).
Entries whose datacenter default was not measured apply to ``traditional`` only.

Examples:
    >>> [d.text for d in default_lines("router bgp 1\\n bgp ebgp-requires-policy\\n neighbor x\\n")]
    ['bgp ebgp-requires-policy']
    >>> default_lines("frr version 7.3\\nrouter bgp 1\\n bgp ebgp-requires-policy\\n")
    ()
    >>> [d.line for d in default_lines("router bgp 1\\n address-family ipv6 unicast\\n exit\\n")]
    [2]
    >>> default_lines("router bgp 1\\n no bgp default ipv4-unicast\\n address-family ipv4 unicast\\n"
    ...               "  neighbor 10.0.0.2 activate\\n")
    ()
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ConfigFacts", "DefaultLine", "default_lines", "facts_of", "is_default", "is_empty_default_block"]

Version = tuple[int, int]

TOP, INTERFACE, BGP, AF, AF_V4 = "top", "interface", "bgp", "af", "af-v4"
"""Where a line stands: top level, in an ``interface`` block, in ``router bgp``, in one of its address
families (``af-v4``: ``address-family ipv4 unicast``, which also matches rules for any address family)."""

BOTH = frozenset({"traditional", "datacenter"})
TRAD = frozenset({"traditional"})
DC = frozenset({"datacenter"})


@dataclass(frozen=True, slots=True)
class _Rule:
    where: str
    pattern: re.Pattern[str]
    why: str
    profiles: frozenset[str] = BOTH
    since: Version = (0, 0)
    """The first ``frr version`` whose configs get this default (older configs keep the old one)."""
    unless_bgp_has: str | None = None
    """A line of the same ``router bgp`` block that makes this line a real setting (shown by FRR)."""
    keyword: str = ""
    """The longest literal run of ``pattern``: a line without it cannot match (a fast pre-check)."""


def _keyword(pattern: str) -> str:
    """The longest literal run of a rule's pattern: a config without it cannot hold the line."""
    pieces: list[str] = [str(piece).strip() for piece in re.split(r"\\S\+|\(\?:[^)]*\)", pattern)]
    return max(reversed(pieces), key=len)  # the last of the longest: "activate", not "neighbor"


def _rule(
    where: str,
    pattern: str,
    why: str,
    *,
    profiles: frozenset[str] = BOTH,
    since: Version = (0, 0),
    unless_bgp_has: str | None = None,
) -> _Rule:
    return _Rule(where, re.compile(pattern), why, profiles, since, unless_bgp_has, _keyword(pattern))


_N = r"neighbor \S+"
RULES: tuple[_Rule, ...] = (
    _rule(TOP, r"ip forwarding", "on where the kernel forwards; FRR shows only `no ip forwarding`"),
    _rule(TOP, r"ipv6 forwarding", "on where the kernel forwards; FRR shows only `no ipv6 forwarding`"),
    _rule(TOP, r"zebra nexthop-group keep 180", "zebra keeps unused nexthop groups 180 s by default"),
    _rule(INTERFACE, r"no shutdown", "interfaces are enabled by default; FRR shows only `shutdown`"),
    _rule(INTERFACE, r"link-detect", "link detection is on by default; FRR shows only `no link-detect`"),
    _rule(INTERFACE, r"ipv6 nd suppress-ra", "router advertisements are suppressed by default"),
    _rule(BGP, r"bgp ebgp-requires-policy", "RFC 8212 policy is required by default", since=(7, 4)),
    _rule(BGP, r"bgp network import-check", "network import-check is on by default", since=(7, 4)),
    _rule(BGP, r"bgp suppress-duplicates", "duplicate updates are suppressed by default", since=(7, 6)),
    _rule(BGP, r"bgp default ipv4-unicast", "neighbors are activated for IPv4 unicast by default"),
    _rule(BGP, r"bgp fast-external-failover", "on by default; FRR shows only the `no` form"),
    _rule(BGP, r"bgp hard-administrative-reset", "on by default", since=(8, 3)),
    _rule(BGP, r"bgp graceful-restart notification", "on by default", since=(8, 3)),
    _rule(
        BGP,
        r"no bgp default show-hostname",
        "off outside the datacenter profile",
        profiles=TRAD,
    ),
    _rule(
        BGP,
        r"no bgp default show-nexthop-hostname",
        "off outside the datacenter profile",
        profiles=TRAD,
    ),
    _rule(BGP, r"bgp default local-preference 100", "the default local preference is 100"),
    _rule(BGP, r"bgp conditional-advertisement timer 60", "the default timer is 60 s"),
    _rule(BGP, r"bgp graceful-restart stalepath-time 360", "the default stale-path time is 360 s"),
    _rule(BGP, r"bgp graceful-restart restart-time 120", "the default restart time is 120 s"),
    _rule(BGP, r"no bgp log-neighbor-changes", "off by default (traditional profile)", profiles=TRAD),
    _rule(BGP, r"bgp log-neighbor-changes", "on by default in the datacenter profile", profiles=DC),
    _rule(BGP, r"no bgp deterministic-med", "off by default (traditional profile)", profiles=TRAD),
    _rule(BGP, r"bgp deterministic-med", "on by default in the datacenter profile", profiles=DC),
    _rule(
        BGP,
        r"timers bgp 60 180",
        "keepalive 60 s, hold 180 s (traditional)",
        profiles=TRAD,
    ),
    _rule(BGP, r"timers bgp 3 9", "keepalive 3 s, hold 9 s are the datacenter defaults", profiles=DC),
    _rule(
        AF_V4,
        rf"{_N} activate",
        "neighbors are active for IPv4 unicast while `bgp default ipv4-unicast` holds (FRR's default)",
        unless_bgp_has="no bgp default ipv4-unicast",
    ),
    _rule(AF, rf"{_N} send-community", "communities are sent by default (FRR shows only the `no` form)"),
    _rule(AF, rf"{_N} send-community (?:extended|large|standard|all|both)", "sent by default"),
    _rule(AF, r"distance bgp 20 200 200", "20/200/200 are BGP's default distances"),
)


_BY_WHERE: dict[str, tuple[_Rule, ...]] = {
    where: tuple(r for r in RULES if r.where == where or (r.where == AF and where == AF_V4))
    for where in (TOP, INTERFACE, BGP, AF, AF_V4)
}


@dataclass(frozen=True, slots=True)
class ConfigFacts:
    """What decides FRR's defaults for one configuration."""

    profile: str = "traditional"
    version: Version | None = None
    """The ``frr version`` line's (None: no such line; the router's own version's defaults, 7.6 or newer)."""
    bgp_lines: frozenset[tuple[str, str]] = frozenset()
    """(``router bgp`` header, line) of every line directly in a ``router bgp`` block."""


def facts_of(config: str) -> ConfigFacts:
    """The profile, version and ``router bgp`` lines of ``config``."""
    return _facts(_walk(config))


def _facts(walked: Sequence[tuple[tuple[str, ...], str]]) -> ConfigFacts:
    profile, version = "traditional", None
    bgp: set[tuple[str, str]] = set()
    for path, line in walked:
        if not path and line.startswith("frr defaults "):
            profile = line.split()[2] if len(line.split()) > 2 else profile
        elif not path and line.startswith("frr version "):
            found = re.match(r"frr version (\d+)\.(\d+)", line)
            version = (int(found[1]), int(found[2])) if found else None
        elif len(path) == 1 and path[0].startswith("router bgp"):
            bgp.add((path[0], line))
    return ConfigFacts(profile, version, frozenset(bgp))


def _where(path: Sequence[str]) -> str | None:
    if not path:
        return TOP
    head = path[0]
    if head.startswith("interface "):
        return INTERFACE if len(path) == 1 else None
    if head.startswith("router bgp"):
        if len(path) == 1:
            return BGP
        if len(path) == 2 and path[1].startswith("address-family "):
            return AF_V4 if path[1].split()[1:3] == ["ipv4", "unicast"] else AF
    return None


def is_default(path: Sequence[str], line: str, facts: ConfigFacts) -> str | None:
    """Why ``line`` (stripped) in the block ``path`` (block headers, outermost first) restates a default
    that FRR never shows; None when it does not (or this table does not know it)."""
    where = _where(path)
    if where is None:
        return None
    for rule in _BY_WHERE[where]:
        if rule.keyword not in line:
            continue
        if facts.profile not in rule.profiles or not rule.pattern.fullmatch(line):
            continue
        if facts.version is not None and facts.version < rule.since:
            continue
        if rule.unless_bgp_has and (path[0], rule.unless_bgp_has) in facts.bgp_lines:
            continue
        return rule.why
    return None


def is_empty_default_block(path: Sequence[str]) -> str | None:
    """Why an empty block ``path`` is one FRR never shows (an empty ``address-family`` or ``line vty``)."""
    if len(path) == 2 and path[0].startswith("router bgp") and path[1].startswith("address-family "):
        return "an empty address-family block: FRR shows an address family only with lines in it"
    if path == ("line vty",) or list(path) == ["line vty"]:
        return "an empty `line vty` block: FRR shows it only with lines in it"
    return None


@dataclass(frozen=True, slots=True)
class DefaultLine:
    """A line of a configuration that FRR never shows because it is the default."""

    line: int
    """1-based line number in the configuration text."""
    text: str
    """The line, stripped."""
    why: str


_CLOSERS = {"exit", "exit-address-family", "exit-vrf", "end", "!"}
_OPENERS = re.compile(r"(interface|router|route-map|line|vrf|key chain|bfd|segment-routing) ")
"""Top-level lines that open a block (the lines after them, indented, stand in it)."""


def _walk(config: str) -> list[tuple[tuple[str, ...], str]]:
    """(block path, stripped line) of every line that is not a header, a closer or a comment."""
    return [(path, text) for _, path, text, header in _lines(config) if not header]


def _lines(config: str) -> list[tuple[int, tuple[str, ...], str, bool]]:
    """(line number, block path, stripped text, opens a block) of every meaningful line of ``config``.

    Blocks by indentation and keywords, so that any indentation depth (one space as FRR prints, two as
    people write) and missing ``exit`` lines read the same: a line at column 0 is top level, an
    ``address-family`` line in ``router bgp`` opens a sub-block until ``exit-address-family`` or a line no
    deeper than it."""
    out: list[tuple[int, tuple[str, ...], str, bool]] = []
    top: str | None = None
    af: tuple[str, int] | None = None
    for number, raw in enumerate(config.splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("!"):
            continue
        depth = len(raw) - len(raw.lstrip())
        if depth == 0:
            af = None
            if text in _CLOSERS:
                top = None
                continue
            opens = bool(
                re.match(r"(interface|router|route-map|line|vrf|key chain|bfd|segment-routing) ", text + " ")
            )
            top = text if opens else None
            out.append((number, (), text, opens))
            continue
        if top is None:
            out.append((number, (), text, False))
            continue
        if af is not None and (depth <= af[1] or text == "exit-address-family"):
            af = None
            if text == "exit-address-family":
                continue
        if text in _CLOSERS:
            continue
        if af is None and top.startswith("router bgp") and text.startswith("address-family "):
            af = (text, depth)
            out.append((number, (top,), text, True))
            continue
        out.append((number, (top, af[0]) if af else (top,), text, False))
    return out


_KEYWORDS = tuple(sorted({rule.keyword for rule in RULES} | {"line vty"}))
"""Words one of which a config holding a default line must contain (a substring search, fast): a config
with none of them (and no empty address family) is not parsed at all."""
_AF_HEADER = re.compile(r"^([ \t]*)address-family [^\n]*\n((?:[ \t]*(?:!.*)?\n)*)([ \t]*)(\S+)", re.MULTILINE)


def _may_hold_defaults(config: str) -> bool:
    if any(word in config for word in _KEYWORDS):
        return True
    for match in _AF_HEADER.finditer(config):  # an address family whose next line is not inside it
        if match[4] == "exit-address-family" or len(match[3]) <= len(match[1]):
            return True
    return "address-family" in config[-200:]  # an address family at the very end: let the parser judge


def default_lines(config: str) -> tuple[DefaultLine, ...]:
    """Every line of ``config`` that restates a default FRR never shows, and every empty block FRR never
    shows, in order."""
    if not _may_hold_defaults(config):
        return ()
    lines = _lines(config)
    facts = _facts([(path, text) for _, path, text, header in lines if not header])
    found: list[DefaultLine] = []
    for index, (number, path, text, header) in enumerate(lines):
        if header:
            inner = (*path, text)
            has_body = index + 1 < len(lines) and lines[index + 1][1][: len(inner)] == inner
            why = None if has_body else is_empty_default_block(inner)
        else:
            why = is_default(path, text, facts)
        if why is not None:
            found.append(DefaultLine(number, text, why))
    return tuple(found)
