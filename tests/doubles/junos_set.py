"""``load set`` for the Junos double: configuration-mode commands applied to the candidate, line by line.

Juniper, *Junos OS CLI User Guide*, "Load a Configuration from a File" (``load set``): "Loads a
configuration file that contains set configuration mode commands. Executes the configuration instructions
line by line as they are stored in a file or from a terminal. The instructions can contain any
configuration mode command, such as set, edit, exit, and top." Over the XML API it is
``<load-configuration action="set" format="text"><configuration-set>`` (*Junos XML Management Protocol
Developer Guide*, "Load Configuration Data as a Set of Commands"; PyEZ ``rpcmeta.load_config`` sends
exactly that for ``format="set"``). ``delete`` at the top level (no path) deletes the whole candidate
configuration ("Delete a statement or identifier. All subordinate statements and identifiers contained
within the specified statement path are deleted with it"), so ``delete`` followed by the set commands of a
whole configuration gives that configuration: what netimmutable relies on to replace with a ``set``
artifact.

A set command names a path without braces, so where a container ends and the leaf begins needs the
schema. This double knows the hierarchy of the statements its tests use (``CONTAINERS``: a keyword and how
many identifier words follow it; the children of ``interfaces`` are interface names); any other keyword
starts the leaf, which takes the rest of the line. Only ``set`` and ``delete`` are modelled; another
command is a syntax error and nothing of the load is applied (the RPC answers with the error).
"""

from __future__ import annotations

import re

from tests.doubles import junos_conf as jc

__all__ = ["CONTAINERS", "apply"]

CONTAINERS: dict[str, int] = {
    **dict.fromkeys(jc.TOP_LEVEL - {"version", "apply-groups"}, 0),
    **dict.fromkeys(("netconf", "bgp", "ospf", "static", "login", "from", "then"), 0),
    **dict.fromkeys(("unit", "family", "group", "neighbor", "area", "policy-statement", "term", "user"), 1),
}
_WORD = re.compile(r'"(?:[^"\\]|\\.)*"|\S+')


def apply(stmts: list[jc.Stmt], text: str) -> list[jc.Stmt]:
    """The candidate ``stmts`` after the set commands of ``text``; raises ``jc.ConfigSyntaxError``."""
    result = [s.copy() for s in stmts]
    for number, line in enumerate(text.splitlines(), 1):
        words = _WORD.findall(line)
        if not words or words[0].startswith("#"):
            continue
        action, path = words[0], words[1:]
        if action == "delete":
            result = _delete(result, _groups(path, number)) if path else []
        elif action == "set" and path:
            result = jc.merge(result, [_chain(_groups(path, number))])
        else:
            raise jc.ConfigSyntaxError("syntax error", action, number)
    return result


def _groups(words: list[str], number: int) -> list[tuple[tuple[str, ...], bool]]:
    """``words`` cut into statements: (words, is a container), the last one a leaf when not a container."""
    groups: list[tuple[tuple[str, ...], bool]] = []
    i = 0
    while i < len(words):
        parent = groups[-1][0] if groups else ()
        if parent == ("interfaces",):
            groups.append(((words[i],), True))
            i += 1
            continue
        args = CONTAINERS.get(words[i])
        if args is None or (not groups and words[i] not in jc.TOP_LEVEL):
            if not groups and words[i] not in jc.TOP_LEVEL:
                raise jc.ConfigSyntaxError("syntax error", words[i], number)
            groups.append((tuple(words[i:]), False))
            break
        groups.append((tuple(words[i : i + 1 + args]), True))
        i += 1 + args
    if groups and groups[-1][1]:  # a container with nothing below it prints as a leaf (``ssh;``)
        groups[-1] = (groups[-1][0], False)
    return groups


def _chain(groups: list[tuple[tuple[str, ...], bool]]) -> jc.Stmt:
    words, _ = groups[-1]
    stmt = jc.Stmt(words)
    for words, _ in reversed(groups[:-1]):
        stmt = jc.Stmt(words, [stmt])
    return stmt


def _delete(stmts: list[jc.Stmt], groups: list[tuple[tuple[str, ...], bool]]) -> list[jc.Stmt]:
    """``stmts`` without the statement ``groups`` names (container or leaf), emptied parents kept."""
    current = stmts
    for words, _ in groups[:-1]:
        found = next((s for s in current if s.words == words and s.children is not None), None)
        if found is None or found.children is None:
            return stmts
        current = found.children
    last = groups[-1][0]
    current[:] = [s for s in current if s.words != last and s.words[: len(last)] != last]
    return stmts


def display_set(stmts: list[jc.Stmt], path: tuple[str, ...] = ()) -> str:
    """``show configuration | display set``: one ``set`` command per leaf, in the order of the config."""
    out: list[str] = []
    for stmt in stmts:
        here = (*path, *stmt.words)
        if stmt.children:
            out.append(display_set(stmt.children, here))
        else:
            out.append("set " + " ".join(here) + "\n")
    return "".join(out)
