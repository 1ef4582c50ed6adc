"""One read of an FRR router for several getters: the vtysh commands they need, run in ONE vtysh start and
ONE SSH exec (each vtysh start costs ~25 ms, each exec a round trip), and that output split back into each
command's answer.

The shell command prints vtysh's outputs (JSON commands first, then ``show running-config no-header``,
then ``show version``), a marker line of random text with vtysh's exit status, then FRR's uptime. The split
is checked, never guessed: the JSON outputs must be that many objects, the running config must end with its
``end`` line and ``show version`` must start with ``FRRouting``; anything else keeps nothing (None), and each
getter then reads on its own.

Examples:
    >>> leading_json('{"a": 1}\\n{"b": 2}\\nFRRouting 8.4.4 (r1)\\n', 2)
    ([{'a': 1}, {'b': 2}], 'FRRouting 8.4.4 (r1)\\n')
    >>> leading_json('% bgpd is not running\\n{"b": 2}', 2) is None
    True
    >>> texts("frr version 8.4.4\\nhostname r1\\nend\\nFRRouting 8.4.4 (r1)\\n", config=True, facts=True)
    ('frr version 8.4.4\\nhostname r1\\nend\\n', 'FRRouting 8.4.4 (r1)\\n')
    >>> texts("frr version 8.4.4\\nhostname r1\\n", config=True, facts=True) is None
    True
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INTERFACES",
    "NEEDS",
    "NEIGHBORS",
    "RUNNING",
    "SUMMARY",
    "UPTIME",
    "VERSION",
    "RoundRead",
    "leading_json",
    "read_command",
    "split_read",
    "texts",
    "uptime_of",
]

INTERFACES = "show interface json"
NEIGHBORS = "show bgp vrf all neighbors json"
SUMMARY = "show bgp vrf all summary json"
VERSION = "show version"
RUNNING = "show running-config no-header"
UPTIME = "ps -o etimes= -p \"$(cat /run/frr/zebra.pid)\" || cut -d' ' -f1 /proc/uptime"
"""Seconds since zebra started (FRR's uptime), else the host's."""
NEEDS: dict[str, tuple[str, ...]] = {
    "get_facts": (INTERFACES, VERSION),
    "get_interfaces": (INTERFACES,),
    "get_interfaces_ip": (INTERFACES,),
    "get_bgp_neighbors": (NEIGHBORS, SUMMARY),
    "get_bgp_neighbors_detail": (NEIGHBORS,),
    "get_config": (RUNNING,),
}
"""The vtysh commands each getter a read can answer needs (``get_facts`` also the uptime)."""
_JSON = (INTERFACES, NEIGHBORS, SUMMARY)


@dataclass(slots=True)
class RoundRead:
    """One read: each command's answer, and the getters that may still answer from it (each once)."""

    at: float
    left: set[str]
    docs: dict[str, dict[str, Any]]
    running: str = ""
    version: str = ""
    uptime: float = -1.0


@dataclass(frozen=True, slots=True)
class ReadCommand:
    shell: str
    marker: str
    json: tuple[str, ...]
    config: bool
    facts: bool


def read_command(getters: Collection[str]) -> ReadCommand | None:
    """The shell command that reads what ``getters`` need (None: nothing this module knows)."""
    wanted = {c for g in getters for c in NEEDS.get(g, ())}
    if not wanted:
        return None
    json_commands = tuple(c for c in _JSON if c in wanted)
    config, facts = RUNNING in wanted, VERSION in wanted
    commands = (*json_commands, *((RUNNING,) if config else ()), *((VERSION,) if facts else ()))
    marker = f"netimmutable-{secrets.token_hex(8)}"  # the router cannot print it by chance
    args = " ".join(f"-c {shlex.quote(c)}" for c in commands)
    shell = f"vtysh {args}; s=$?; echo; echo {marker} $s" + (f"; {UPTIME}" if facts else "")
    return ReadCommand(shell, marker, json_commands, config, facts)


def split_read(command: ReadCommand, stdout: str, at: float, getters: Collection[str]) -> RoundRead | None:
    """``stdout`` of ``command`` as each command's answer; None when it is not what the commands print."""
    text, found, after = stdout.rpartition(f"\n{command.marker} ")
    status, _, uptime = after.partition("\n")
    if not found or status.strip() != "0":
        return None
    split = leading_json(text, len(command.json))
    if split is None:
        return None
    docs, rest = split
    parts = texts(rest, config=command.config, facts=command.facts)
    if parts is None:
        return None
    left = {g for g in getters if g in NEEDS}
    return RoundRead(at, left, dict(zip(command.json, docs, strict=True)), *parts, uptime_of(uptime))


def leading_json(text: str, wanted: int) -> tuple[list[dict[str, Any]], str] | None:
    """The first ``wanted`` JSON objects of ``text`` (several vtysh commands' outputs, one after the other)
    and the text after them; None when ``text`` does not start with that many objects."""
    decoder, pos = json.JSONDecoder(), 0
    docs: list[dict[str, Any]] = []
    try:
        while len(docs) < wanted:
            pos = len(text) - len(text[pos:].lstrip())
            doc, pos = decoder.raw_decode(text, pos)
            if not isinstance(doc, dict):
                return None
            docs.append(doc)
    except ValueError:
        return None
    return docs, text[pos:].lstrip("\n")


def texts(rest: str, *, config: bool, facts: bool) -> tuple[str, str] | None:
    """(running config, ``show version``) from the text vtysh printed after the JSON outputs: the running
    config ends with its ``end`` line, ``show version`` starts with ``FRRouting``; None when they do not."""
    running, version = (rest, "") if config else ("", rest)
    if config and facts:
        head, sep, version = rest.rpartition("\nend\n")
        running = head + sep
    if config and not running.endswith("\nend\n"):
        return None
    if facts and not version.startswith("FRRouting "):
        return None
    return running, version


def uptime_of(text: str) -> float:
    """Seconds from the uptime command's output (-1 when it printed no number)."""
    try:
        return float(text.split(maxsplit=1)[0])
    except (IndexError, ValueError):
        return -1.0
