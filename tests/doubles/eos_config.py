"""The EOS config language, as far as the EOS double knows it: parse, edit and render ``show running-config``.

EOS does not store the text it was given: ``show running-config`` is generated from the device's state, in
EOS's own order, with three-space indentation, top-level commands separated by ``!`` (consecutive
``username`` lines, and static routes, share one group), routing shown even when off (``no ip routing``), and
the whole closed by ``end``: the form of the vEOS running-config in NAPALM's test data
(napalm-automation/napalm, ``test/eos/eos/mock_data/show_running_config.txt``). So this module keeps a small
model (``Config``: top-level blocks, each with child lines) and renders it. The order of blocks follows real
cEOS 4.28 and 4.30 ``show running-config`` outputs in public lab repositories: ``no aaa root``, users,
``transceiver``, ``service routing protocols model``, ``hostname``, ``spanning-tree``, ``management api
http-commands``, interfaces (Ethernet, Loopback, Management, Vlan, by number), ``ip routing``, static routes,
then ``router bgp`` (EOS 4.15, in NAPALM's sample, put aaa and users after spanning-tree and the API after
routing: the order is the release's, and this double speaks 4.3x). Inside a block the child order is the
double's own fixed order (EOS's order for every attribute is not documented where we looked); what matters
for the driver is that it is canonical, whatever the input's order.

Commands arrive flat: NAPALM's ``_load_config`` strips every line (``line.strip()``), so a child line is told
from a top-level one by whether it is valid in the current block, and a line that is not valid there but valid
at the top level leaves the block, as EOS's CLI does in a config session (mode comments aside).
A line valid nowhere is refused with ``InvalidInput``, which the eAPI layer reports as EOS does: error 1002,
``Invalid input (at token N: 'word')``.

Known top-level commands: ``hostname``, ``ip domain-name``, ``username``, ``no aaa root``,
``service routing protocols model``, ``transceiver qsfp default-mode``, ``spanning-tree mode``,
``ip routing``, ``ip route``, ``interface`` (Ethernet, Loopback, Management, Vlan), ``router bgp``,
``management api http-commands``, and ``no`` forms of each.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
import secrets
import string
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Config", "InvalidInput", "parse_config"]

INDENT = "   "
V = TypeVar("V")


class InvalidInput(ValueError):
    """A command the double's grammar does not accept (EOS: ``% Invalid input``)."""

    def __init__(self, line: str, token: int) -> None:
        words = line.split()
        word = words[token] if token < len(words) else (words[-1] if words else "")
        super().__init__(f"Invalid input (at token {token}: '{word}')")
        self.line = line


def _ipv4_prefix(text: str) -> bool:
    try:
        ipaddress.IPv4Interface(text)
    except ValueError:
        return False
    return "/" in text


def _ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _asn(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= 4_294_967_295


_IFACE = re.compile(r"^(Ethernet\d+(/\d+)*|Loopback\d+|Management\d+|Vlan\d+)$")
_IFACE_ORDER = ("Ethernet", "Loopback", "Management", "Vlan")
_ROUTING_RANK = 9
_GROUPED_RANKS = (1, 10)
"""Top-level commands rendered one after another without ``!`` between them: users, static routes."""


@dataclass(frozen=True, slots=True)
class _Command:
    """One command: ``match(words)`` says whether it is valid, ``key(words)`` what a later line replaces
    (``description x`` replaces ``description y``); ``rank`` its place among its level's lines."""

    match: Callable[[list[str]], bool]
    key: Callable[[list[str]], str]
    rank: int = 0
    sub: int = 0
    """Order among lines of one subject (a neighbour's ``remote-as`` before its ``description``)."""
    children: tuple[_Command, ...] = ()
    """A top-level command that opens a block (``interface``, ``router bgp``): the commands valid in it."""


def _words_key(n: int) -> Callable[[list[str]], str]:
    return lambda w: " ".join(w[:n])


# ------------------------------------------------------------------------------------ child grammars
_INTERFACE_CHILDREN = (
    _Command(lambda w: w[0] == "description" and len(w) > 1, _words_key(1), 0),
    _Command(lambda w: w == ["shutdown"], lambda _w: "shutdown", 1),
    _Command(
        lambda w: len(w) == 2 and w[0] == "mtu" and w[1].isdigit() and 68 <= int(w[1]) <= 9214,
        _words_key(1),
        2,
    ),
    _Command(lambda w: w == ["no", "switchport"], lambda _w: "switchport", 3),
    _Command(lambda w: len(w) == 3 and w[:2] == ["ip", "address"] and _ipv4_prefix(w[2]), _words_key(2), 4),
)
_BGP_CHILDREN = (
    _Command(lambda w: len(w) == 2 and w[0] == "router-id" and _ipv4(w[1]), _words_key(1), 0),
    _Command(
        lambda w: len(w) == 4 and w[:2] == ["timers", "bgp"] and w[2].isdigit() and w[3].isdigit(),
        _words_key(2),
        1,
    ),
    _Command(lambda w: len(w) == 2 and w[0] == "maximum-paths" and w[1].isdigit(), _words_key(1), 2),
    _Command(
        lambda w: len(w) == 4 and w[0] == "neighbor" and _ipv4(w[1]) and w[2] == "remote-as" and _asn(w[3]),
        _words_key(3),
        3,
        0,
    ),
    _Command(
        lambda w: len(w) > 3 and w[0] == "neighbor" and _ipv4(w[1]) and w[2] == "description",
        _words_key(3),
        3,
        1,
    ),
    _Command(
        lambda w: len(w) == 3 and w[0] == "neighbor" and _ipv4(w[1]) and w[2] == "shutdown",
        _words_key(3),
        3,
        2,
    ),
    _Command(lambda w: len(w) == 2 and w[0] == "network" and _ipv4_prefix(w[1]), _words_key(2), 4),
)
_API_CHILDREN = (
    _Command(lambda w: w in (["protocol", "http"], ["protocol", "https"]), _words_key(2), 0),
    _Command(lambda w: w == ["shutdown"], lambda _w: "shutdown", 1),
)


# ------------------------------------------------------------------------------------ top-level grammar
def _iface_sort(name: str) -> tuple[int, tuple[int, ...]]:
    kind = re.match(r"[A-Za-z-]+", name)
    prefix = kind.group(0) if kind else name
    numbers = tuple(int(n) for n in re.findall(r"\d+", name))
    return (_IFACE_ORDER.index(prefix) if prefix in _IFACE_ORDER else 99, numbers)


_BLOCKS = (
    _Command(lambda w: w == ["no", "aaa", "root"], lambda _w: "aaa root", 0),
    _Command(
        lambda w: len(w) >= 3 and w[0] == "username" and re.fullmatch(r"[\w.-]+", w[1]) is not None,
        _words_key(2),
        1,
    ),
    _Command(lambda w: w[:3] == ["transceiver", "qsfp", "default-mode"] and len(w) == 4, _words_key(3), 2),
    _Command(
        lambda w: (
            w[:4] == ["service", "routing", "protocols", "model"]
            and len(w) == 5
            and w[4] in ("ribd", "multi-agent")
        ),
        _words_key(4),
        3,
    ),
    _Command(
        lambda w: (
            len(w) == 2 and w[0] == "hostname" and re.fullmatch(r"[A-Za-z0-9][\w.-]*", w[1]) is not None
        ),
        _words_key(1),
        4,
    ),
    _Command(lambda w: len(w) == 3 and w[:2] == ["ip", "domain-name"], _words_key(2), 5),
    _Command(
        lambda w: len(w) == 3 and w[:2] == ["spanning-tree", "mode"] and w[2] in ("mstp", "none"),
        _words_key(2),
        6,
    ),
    _Command(lambda w: w == ["management", "api", "http-commands"], _words_key(3), 7, children=_API_CHILDREN),
    _Command(
        lambda w: len(w) == 2 and w[0] == "interface" and _IFACE.match(w[1]) is not None,
        _words_key(2),
        8,
        children=_INTERFACE_CHILDREN,
    ),
    _Command(lambda w: w == ["ip", "routing"], _words_key(2), _ROUTING_RANK),
    _Command(
        lambda w: (
            len(w) in (4, 5)
            and w[:2] == ["ip", "route"]
            and _ipv4_prefix(w[2])
            and (_ipv4(w[3]) or w[3] == "Null0")
            and (len(w) == 4 or (w[4].isdigit() and 1 <= int(w[4]) <= 255))
        ),
        _words_key(4),
        10,
    ),
    _Command(
        lambda w: len(w) == 3 and w[:2] == ["router", "bgp"] and _asn(w[2]),
        lambda _w: "router bgp",
        11,
        children=_BGP_CHILDREN,
    ),
)


def _find(rules: Iterable[_Command], words: list[str]) -> _Command | None:
    for rule in rules:
        if words and rule.match(words):
            return rule
    return None


def _bad_token(words: list[str], known_first: set[str]) -> int:
    return 1 if words and words[0] in known_first else 0


_KNOWN_FIRST = {
    "hostname", "username", "interface", "router", "ip", "service", "spanning-tree", "management",
    "transceiver", "description", "mtu", "shutdown", "neighbor", "network", "router-id", "timers",
    "maximum-paths", "protocol", "no",
}  # fmt: skip


# ------------------------------------------------------------------------------------ the model
@dataclass(slots=True)
class _Section:
    header: str
    rank: int
    children: dict[str, tuple[tuple[int, int], str]] = field(default_factory=dict)
    """key -> ((rank, sub), line)."""

    def lines(self) -> list[str]:
        def order(item: tuple[str, tuple[tuple[int, int], str]]) -> tuple[int, str, int, str]:
            (rank, sub), line = item[1]
            return (rank, _natural(" ".join(line.split()[:2])), sub, _natural(line))

        return [line for _key, (_rank, line) in sorted(self.children.items(), key=order)]


def _natural(text: str) -> str:
    """Sort key putting ``10.0.0.9`` before ``10.0.0.10``: numbers zero-padded."""
    return re.sub(r"\d+", lambda m: m.group(0).zfill(10), text)


@dataclass(slots=True)
class Config:
    """A device config: top-level sections by key, rendered in EOS's order."""

    sections: dict[str, _Section] = field(default_factory=dict)

    def copy(self) -> Config:
        return Config({k: _Section(s.header, s.rank, dict(s.children)) for k, s in self.sections.items()})

    # ------------------------------------------------------------------ editing, one command at a time
    def editor(self) -> ConfigEditor:
        return ConfigEditor(self)

    # ------------------------------------------------------------------ reading
    def value(self, key: str) -> str | None:
        """The words after ``key`` of a one-line top-level command (``hostname`` -> ``r1``)."""
        section = self.sections.get(key)
        return section.header[len(key) :].strip() if section is not None else None

    def blocks(self, prefix: str) -> list[tuple[str, list[str]]]:
        """(header, child lines) of every section whose header starts with ``prefix``, in rendered order."""
        return [(s.header, s.lines()) for s in self._ordered() if s.header.startswith(prefix)]

    def _ordered(self) -> list[_Section]:
        def order(section: _Section) -> tuple[int, tuple[int, tuple[int, ...]], str]:
            if section.header.startswith("interface "):
                return (section.rank, _iface_sort(section.header.split()[1]), "")
            return (section.rank, (0, ()), _natural(section.header))

        return sorted(self.sections.values(), key=order)

    def render(self) -> str:
        """The body of ``show running-config`` (without its ``! Command``/``! device`` header)."""
        out: list[str] = []
        previous_rank: int | None = None
        sections = self._ordered()
        if "ip routing" not in self.sections:  # routing is off by default, and EOS says so
            sections.append(_Section("no ip routing", _ROUTING_RANK))
            sections.sort(key=lambda s: s.rank)  # stable: the rest keeps its order
        for section in sections:
            grouped = section.rank == previous_rank and section.rank in _GROUPED_RANKS
            if out and not grouped:
                out.append("!")
            out.append(section.header)
            out.extend(INDENT + line for line in section.lines())
            if section.header == "management api http-commands" and "shutdown" not in section.children:
                out.append(INDENT + "no shutdown")
            previous_rank = section.rank
        out.extend(["!", "end"])
        return "\n".join(out) + "\n"


class ConfigEditor:
    """Applies commands to a ``Config`` the way a CLI session does, keeping the current block (the mode)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.current: _Section | None = None
        self.block: _Command | None = None

    def exit(self) -> bool:
        """``exit``: leave the block; False when already at the top level (the caller leaves config mode)."""
        if self.current is None:
            return False
        self.current = self.block = None
        return True

    def apply(self, line: str) -> None:
        """One command; raises ``InvalidInput`` and changes nothing when no grammar accepts it.

        ``no <words>`` removes every line of the level (the block's children first, else the top level)
        that starts with those words (``no neighbor 10.0.12.2``, ``no ip route 10.9.0.0/16``,
        ``no interface Loopback1``); removing what is not there is no error, as on EOS, as long as the
        command's first word belongs to that level."""
        line = _stored_secret(line)  # what EOS keeps of the command
        words = line.split()
        if not words:
            return
        negate = words[0] == "no" and line not in _POSITIVE_NO
        body = words[1:] if negate else words
        if self.block is not None and self.current is not None:
            if negate and _negatable(self.block.children, body):
                _remove(self.current.children, body, lambda k, v: v[1])
                return
            rule = _find(self.block.children, words)
            if rule is not None:
                self.current.children[rule.key(words)] = ((rule.rank, rule.sub), " ".join(words))
                return
        if negate and _negatable(_BLOCKS, body):
            _remove(self.config.sections, body, lambda k, v: v.header)
            self.current = self.block = None
            return
        block = _find(_BLOCKS, words)
        if block is None:
            raise InvalidInput(line, _bad_token(words, _KNOWN_FIRST))
        key, header = block.key(words), " ".join(words)
        section = self.config.sections.get(key)
        if section is not None and section.header != header and key == "router bgp":
            raise InvalidInput(line, 2)  # EOS: "% BGP is already running with AS number N"
        if section is None or section.header != header:
            section = _Section(header, block.rank, section.children if section and block.children else {})
            self.config.sections[key] = section
        if block.children:
            self.current, self.block = section, block
        else:
            self.current = self.block = None


_POSITIVE_NO = {"no switchport", "no aaa root"}
"""Commands spelled with ``no`` that are themselves config lines."""


_SAMPLES: dict[tuple[str, ...], list[str]] = {
    ("description",): ["description", "x"],
    ("shutdown",): ["shutdown"],
    ("mtu",): ["mtu", "1500"],
    ("ip", "address"): ["ip", "address", "10.0.0.1/32"],
    ("router-id",): ["router-id", "1.1.1.1"],
    ("maximum-paths",): ["maximum-paths", "1"],
    ("neighbor",): ["neighbor", "10.0.0.1", "remote-as", "1"],
    ("network",): ["network", "10.0.0.0/8"],
    ("timers", "bgp"): ["timers", "bgp", "3", "9"],
    ("protocol",): ["protocol", "http"],
    ("hostname",): ["hostname", "x"],
    ("username",): ["username", "x", "nopassword"],
    ("interface",): ["interface", "Loopback0"],
    ("router", "bgp"): ["router", "bgp", "1"],
    ("ip", "routing"): ["ip", "routing"],
    ("ip", "route"): ["ip", "route", "10.0.0.0/8", "Null0"],
    ("ip", "domain-name"): ["ip", "domain-name", "x"],
    ("spanning-tree", "mode"): ["spanning-tree", "mode", "mstp"],
    ("management", "api", "http-commands"): ["management", "api", "http-commands"],
    ("service", "routing", "protocols", "model"): ["service", "routing", "protocols", "model", "ribd"],
}
"""For each negatable command, its leading words and one valid instance of it."""


def _negatable(rules: Iterable[_Command], body: list[str]) -> bool:
    """``no`` + ``body`` is a valid command at this level: ``body`` begins with a command's leading words."""
    for prefix, sample in _SAMPLES.items():
        if tuple(body[: len(prefix)]) == prefix and any(rule.match(sample) for rule in rules):
            return True
    return False


def _remove(table: dict[str, V], body: list[str], line_of: Callable[[str, V], str]) -> None:
    wanted = " ".join(body)
    for key in [k for k, v in table.items() if (line_of(k, v) + " ").startswith(wanted + " ")]:
        del table[key]


_CLEAR_SECRET = re.compile(r"^(username \S+(?: .+)? secret) (?:0 )?(?!sha512 |5 )(\S+)$")


def _stored_secret(line: str) -> str:
    """EOS never stores a user's secret in clear: ``username NAME secret [0] CLEAR`` is kept, and shown, as
    ``secret sha512 $6$<salt>$<hash>`` computed by the device with a salt of its own; a secret given already
    hashed (``secret sha512 ...``, ``secret 5 ...``) is kept as given (Arista, "EOS User Manual",
    ``username``: 0 is clear text, sha512 an already hashed secret; the running-config holds the sha512
    hash). The hash is Python's ``crypt`` (glibc's SHA-512 crypt), not netimmutable's code."""
    found = _CLEAR_SECRET.match(line)
    if found is None:
        return line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = importlib.import_module("crypt")
    salt = "".join(secrets.choice(string.ascii_letters + string.digits + "./") for _ in range(16))
    return f"{found[1]} sha512 {crypt.crypt(found[2], f'$6${salt}')}"


def parse_config(text: str) -> Config:
    """A whole config text (indented or flat, ``!`` comments, ``end``) as a ``Config``; raises
    ``InvalidInput`` at the first line no grammar accepts."""
    config = Config()
    editor = config.editor()
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if line == "end":
            break
        if line == "exit":
            editor.exit()
            continue
        editor.apply(line)
    return config
