"""Refusing ``ignore_lines`` patterns that would hide drift that matters, at load, at the settings line.

``ignore_lines`` (``netimmutable.yaml``) are regular expressions searched in each config line; a line one
matches is dropped before running and intended configs are compared. A pattern that is too broad hides
drift: an injected default route then reads as "in sync". Three rules, each a located ``SettingsError``:

1. **Empty or every line.** A pattern that matches the empty line, or every line of ``PROBE_LINES`` (lines
   of many shapes), is refused.
2. **Structure.** A pattern that matches any of ``STRUCTURAL_LINES`` is refused: the lines that say what a
   device is and how it routes (host name, interfaces and their addresses, routing processes and BGP
   neighbours, static and default routes, in the common syntaxes). No volatile or cosmetic line looks
   like them, so no legitimate pattern needs to match them; a pattern such as ``^(?!ZZZ$).``, built to
   miss the probes of rule 1, meets this one.
3. **Most of the configs.** With the repository at hand (``check_against_snapshots``), a pattern, or all
   of them together, that matches more than ``MAX_IGNORED_SHARE`` of the config lines of the committed
   snapshots (the first ``SAMPLE_FILES`` in name order) is refused, naming the snapshot: a pattern crafted
   to miss every probe line still cannot hide most of what devices run.

What is not refused: a narrow pattern that matches exactly one line (it is what ``ignore_lines`` is for). The
setting is reviewed with the release like any input; docs/safety.md says so.

Examples:
    >>> check_patterns("ignore_lines", ("^snmp-server location",), "netimmutable.yaml", 3)
    >>> check_patterns("ignore_lines", ("^(?!ZZZ$).",), "yaml", 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    netimmutable.errors.SettingsError: yaml:3: ignore_lines[0] '^(?!ZZZ$).' matches 'hostname r1', ...
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from netimmutable.errors import SettingsError

__all__ = [
    "MAX_IGNORED_SHARE",
    "PROBE_LINES",
    "SAMPLE_FILES",
    "STRUCTURAL_LINES",
    "check_against_snapshots",
    "check_patterns",
]

PROBE_LINES = (
    "hostname r1",
    "!",
    "#",
    "}",
    "end",
    "exit",
    "1",
    "ZZZ",
    "frr version 8.4.4",
    "interface Ethernet1",
    " ip address 10.0.0.1/30",
    "router bgp 65001",
    " neighbor 10.255.12.2 remote-as 65002",
    "set system host-name r1",
    "ip route 0.0.0.0/0 blackhole",
)
"""Config lines of many shapes: an ``ignore_lines`` pattern that matches all of them would hide any drift."""

STRUCTURAL_LINES = (
    "hostname r1",
    "set system host-name r1",
    "interface Ethernet1",
    "interface eth1",
    "interface GigabitEthernet0/0/0",
    "interface lo",
    " ip address 10.0.0.1/30",
    " ip address 10.0.0.1 255.255.255.252",
    " ipv6 address 2001:db8::1/64",
    "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/30",
    "router bgp 65001",
    "router ospf",
    "router isis CORE",
    " neighbor 10.255.12.2 remote-as 65002",
    "neighbor 10.255.12.2 remote-as 65002",
    "set protocols bgp group ebgp neighbor 10.255.12.2 peer-as 65002",
    "ip route 0.0.0.0/0 blackhole",
    "ip route 0.0.0.0/0 192.0.2.1",
    "ip route 0.0.0.0 0.0.0.0 192.0.2.1",
    "ipv6 route ::/0 2001:db8::1",
    "ip route 10.2.0.0/16 Null0",
    "set routing-options static route 0.0.0.0/0 next-hop 192.0.2.1",
)
"""Lines that say what a device is and how it routes: no ``ignore_lines`` pattern may match one of them."""

MAX_IGNORED_SHARE = 0.5
"""A pattern (or the patterns together) may match at most this share of the sampled snapshots' lines."""

SAMPLE_FILES = 16
"""How many snapshots (``*.cfg``, first in name order) the share is measured on."""

_SAMPLE_BYTES = 1 << 20
"""At most this much of each sampled snapshot is read."""

_NOT_CONFIG = frozenset({"!", "#", "}", "end", "exit", "exit-address-family", "exit-vrf"})
"""Lines that carry no configuration (comments and closers do not count in the share)."""

_HINT = "anchor it to what the lines start with, e.g. '^snmp-server location'"


def check_patterns(where: str, patterns: Sequence[str], label: str, line: int) -> None:
    """Each pattern compiles and passes rules 1 and 2 (module docstring); ``SettingsError`` at ``line``."""
    for index, text in enumerate(patterns):
        name = f"{where}[{index}] {text!r}"
        try:
            pattern = re.compile(text)
        except (re.error, OverflowError, RecursionError) as exc:
            raise SettingsError(
                f"{name} is not a valid regular expression ({exc})", file=label, line=line
            ) from None
        if pattern.search("") is not None:
            raise SettingsError(
                f"{name} matches the empty line, so it matches every line and would hide all drift",
                file=label,
                line=line,
                hint=_HINT,
            )
        if all(pattern.search(probe) for probe in PROBE_LINES):
            raise SettingsError(
                f"{name} matches every line, so it would hide all drift", file=label, line=line, hint=_HINT
            )
        hit = next((probe for probe in STRUCTURAL_LINES if pattern.search(probe)), None)
        if hit is not None:
            raise SettingsError(
                f"{name} matches {hit!r}, a line that says what a device is or how it routes: it would "
                "hide drift in it (an added default route, a changed neighbour)",
                file=label,
                line=line,
                hint=_HINT + "; ignore_lines is for volatile or cosmetic lines only",
            )


def _config_lines(path: Path) -> list[str]:
    try:
        with path.open("rb") as handle:
            raw = handle.read(_SAMPLE_BYTES)
    except OSError:
        return []  # the snapshot's own reader reports it where it is used
    lines = raw.decode("utf-8", errors="replace").splitlines()
    return [
        line
        for line in lines
        if line.strip() and line.strip() not in _NOT_CONFIG and not line.lstrip().startswith(("!", "#"))
    ]


def check_against_snapshots(
    patterns: Sequence[str], root: Path, snapshots_dir: str, where: str, label: str, line: int
) -> None:
    """Rule 3 (module docstring): ``SettingsError`` at ``line`` when a pattern, or all of them together,
    match more than ``MAX_IGNORED_SHARE`` of the config lines of the sampled snapshots (``snapshots_dir``
    of the repository at ``root``). Patterns must have passed ``check_patterns``."""
    snapshots = root / snapshots_dir
    if not patterns or not snapshots.is_dir() or snapshots.is_symlink():
        return
    files = sorted(p for p in snapshots.glob("*.cfg") if p.is_file() and not p.is_symlink())[:SAMPLE_FILES]
    sampled = [(path, _config_lines(path)) for path in files]
    total = sum(len(lines) for _, lines in sampled)
    if total == 0:
        return
    compiled = [re.compile(text) for text in patterns]
    candidates = [
        (f"{where}[{i}] {text!r}", [p]) for i, (text, p) in enumerate(zip(patterns, compiled, strict=True))
    ]
    if len(compiled) > 1:
        candidates.append((f"{where} (all {len(compiled)} patterns together)", compiled))
    for name, group in candidates:
        hidden = 0
        worst: tuple[int, Path] | None = None
        for path, lines in sampled:
            count = sum(1 for text in lines if any(p.search(text) for p in group))
            hidden += count
            if count and (worst is None or count > worst[0]):
                worst = (count, path)
        if hidden > MAX_IGNORED_SHARE * total and worst is not None:
            raise SettingsError(
                f"{name} matches {hidden} of the {total} config lines of the snapshots "
                f"({worst[0]} in {snapshots_dir}/{worst[1].name}): it would hide most drift",
                file=label,
                line=line,
                hint=_HINT + "; ignore_lines is for volatile or cosmetic lines only",
            )
