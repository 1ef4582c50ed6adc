"""Reading frr-reload.py's semantic diff (``--test``): what it would delete and add, minus what is no change.

frr-reload.py prints two sections, "Lines To Delete" and "Lines To Add"; each entry is one line, preceded
by the headers of the blocks it stands in, one indentation step per level::

    Lines To Add
    ============
    router bgp 65001
     address-family ipv4 unicast
      neighbor 10.0.0.2 activate

Two kinds of entries are not changes a replace could ever make, and reading them as changes made every
deploy of such a config fail its convergence check:

- adds of a line that restates a default FRR never shows (``netimmutable.drivers.frr_defaults``): applying
  it changes nothing and it is still "to add" afterwards;
- (for the rollback fallback) deletes inside an ``interface`` block the target does not have: frr-reload.py
  never sends ``no interface`` (its source: "We cannot do 'no interface' or 'no vrf' in FRR"), it removes
  the block's lines one by one, and some cannot be removed that way (``no multicast`` is then shown); FRR
  itself deletes the whole block of an interface the kernel does not have with ``no interface NAME``
  (lib/if.c refuses only active interfaces).

Examples:
    >>> diff = "\\nLines To Add\\n============\\nrouter bgp 1\\n bgp ebgp-requires-policy\\n"
    >>> without_defaults(diff, "router bgp 1\\n bgp ebgp-requires-policy\\n")
    ''
    >>> print(without_defaults(diff + "ip route 10.0.0.0/8 blackhole\\n", ""))
    Lines To Add
    ============
    ip route 10.0.0.0/8 blackhole
    >>> undeletable_interfaces("Lines To Delete\\n===============\\ninterface dummy9\\n multicast\\n", "")
    ('interface dummy9',)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netimmutable.drivers.frr_defaults import ConfigFacts, facts_of, is_default, is_empty_default_block

__all__ = ["ReloadDiff", "parse", "undeletable_interfaces", "without_defaults"]

DELETE, ADD = "Lines To Delete", "Lines To Add"


@dataclass(frozen=True, slots=True)
class ReloadDiff:
    """frr-reload.py's ``--test`` output as entries: (block headers, line) per section."""

    deletes: tuple[tuple[str, ...], ...]
    adds: tuple[tuple[str, ...], ...]
    """Each entry: the headers of the blocks it stands in, outermost first, then the line itself."""

    def text(self) -> str:
        """The diff in frr-reload.py's own layout ('' when there is nothing in it)."""
        parts: list[str] = []
        for title, entries in ((DELETE, self.deletes), (ADD, self.adds)):
            if entries:
                body = "\n".join(" " * depth + item for entry in entries for depth, item in enumerate(entry))
                parts.append(f"{title}\n{'=' * len(title)}\n{body}")
        return "\n\n".join(parts)


def parse(text: str) -> ReloadDiff:
    """The entries of frr-reload.py's ``--test`` output (ANSI colours already removed)."""
    sections: dict[str, list[tuple[str, ...]]] = {DELETE: [], ADD: []}
    current: list[tuple[str, ...]] | None = None
    entry: list[str] = []

    def flush() -> None:
        if current is not None and entry:
            current.append(tuple(entry))

    for raw in text.splitlines():
        line = raw.rstrip()
        if line in sections:
            flush()
            current, entry = sections[line], []
            continue
        if not line.strip() or set(line) == {"="} or current is None:
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:
            flush()
            entry = []
        entry = [*entry[:depth], line.strip()]
    flush()
    return ReloadDiff(tuple(sections[DELETE]), tuple(sections[ADD]))


def _is_default_add(entry: Sequence[str], facts: ConfigFacts) -> bool:
    *path, line = entry
    if is_default(path, line, facts) is not None:
        return True
    return is_empty_default_block(entry) is not None


def without_defaults(text: str, target: str) -> str:
    """frr-reload.py's ``--test`` output ``text`` against the config ``target``, without the adds that
    restate a default FRR never shows ('' when nothing else is left)."""
    diff = parse(text)
    if not diff.deletes and not diff.adds:
        return text.strip()
    facts = facts_of(target)
    kept = tuple(entry for entry in diff.adds if not _is_default_add(entry, facts))
    return ReloadDiff(diff.deletes, kept).text()


def undeletable_interfaces(text: str, target: str) -> tuple[str, ...]:
    """The ``interface`` blocks frr-reload.py's ``--test`` output ``text`` still wants to delete lines from
    although ``target`` has no such block at all: each can go whole with ``no <header>``."""
    wanted = {line.strip() for line in target.splitlines() if line.startswith("interface ")}
    found: list[str] = []
    for entry in parse(text).deletes:
        head = entry[0]
        if head.startswith("interface ") and head not in wanted and head not in found:
            found.append(head)
    return tuple(found)
