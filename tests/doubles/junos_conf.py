"""Junos configuration text for the Junos double: a small parser of the curly-brace form, its printer, the
``show | compare`` diff, and the XML form a subtree filter reads.

The curly-brace syntax (Juniper, "Junos OS CLI User Guide", *Configuration statements and identifiers*, and
"Loading Configuration Files": ``load override`` takes a complete configuration in this text form): a
statement is words ending in ``;`` (a leaf) or words followed by ``{ ... }`` (a container); ``#`` starts a
comment to the end of the line (the ``## Last commit: ...`` header ``show configuration`` prints is one),
``/* ... */`` is an annotation, double quotes group words, ``[ a b ]`` is a list of values. The printer
indents by four spaces, as ``show configuration`` does.

Refusal rule of this double: a top-level statement that is not a known Junos top-level hierarchy
(``TOP_LEVEL``) is a ``syntax error`` with that word as ``bad-element``, as mgd reports a statement it does
not know; unbalanced braces or a missing ``;`` are syntax errors too. Nothing below the top level is checked.

The diff follows the form Junos prints for ``show | compare`` (PyEZ ``Config.diff`` returns it as is): one
``[edit <path>]`` line per hierarchy that changed, then the statements removed (``-``) and added (``+``)
at that level, whole blocks included. The indentation after the sign (one space per word of the
``[edit ...]`` path plus one, at least two; four more per nested level) follows the outputs of real devices
published with PyEZ and Salt examples (``[edit system]`` / ``-  host-name r1;``;
``[edit interfaces ge-0/0/0 unit 0 family inet]`` / ``+       address 198.18.20.12/24;``).
"""

from __future__ import annotations

import importlib
import re
import warnings
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

__all__ = [
    "TOP_LEVEL",
    "ConfigSyntaxError",
    "Stmt",
    "diff",
    "find",
    "merge",
    "parse",
    "render",
    "to_xml",
]

TOP_LEVEL = frozenset(
    {
        "version", "groups", "apply-groups", "system", "chassis", "services", "security", "interfaces",
        "snmp", "forwarding-options", "event-options", "routing-options", "protocols", "policy-options",
        "class-of-service", "firewall", "routing-instances", "vlans", "access", "applications",
    }
)  # fmt: skip
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|/\*.*?\*/|#[^\n]*|[{};]|[^\s{};"]+', re.S)
# statements whose value names an entry of a list: Junos XML writes them <kw><name>value</name></kw>
_KEYED = frozenset({"unit", "group", "neighbor", "address", "server", "user", "policy-statement", "term"})
# parents whose single-word children are list entries of this tag (interfaces { ge-0/0/0 {...} })
_ENTRY_TAG = {"interfaces": "interface"}


class ConfigSyntaxError(ValueError):
    """What mgd answers to a statement it cannot take: ``message`` and the offending ``token``."""

    def __init__(self, message: str, token: str, line: int) -> None:
        super().__init__(f"{message}: {token} (line {line})")
        self.message = message
        self.token = token
        self.line = line


@dataclass
class Stmt:
    """One statement: ``words`` (``("host-name", "r1")``), ``children`` (``None`` for a leaf)."""

    words: tuple[str, ...]
    children: list[Stmt] | None = field(default=None)

    @property
    def key(self) -> tuple[bool, tuple[str, ...]]:
        return (self.children is not None, self.words)

    def copy(self) -> Stmt:
        kids = None if self.children is None else [c.copy() for c in self.children]
        return Stmt(self.words, kids)


def parse(text: str, *, check_top_level: bool = True) -> list[Stmt]:
    """The statements of ``text``; duplicate containers are merged, as the device merges them."""
    root: list[Stmt] = []
    stack: list[list[Stmt]] = [root]
    words: list[str] = []
    line = 1
    pos = 0
    for match in _TOKEN.finditer(text):
        line += text.count("\n", pos, match.start())
        pos = match.start()
        token = match.group()
        if token.startswith(("#", "/*")):
            continue
        if token == ";":
            if words:
                _add(stack[-1], Stmt(tuple(words)), len(stack), check_top_level, line)
            words = []
        elif token == "{":
            if not words:
                raise ConfigSyntaxError("syntax error", "{", line)
            block = Stmt(tuple(words), [])
            stack.append(_add(stack[-1], block, len(stack), check_top_level, line))
            words = []
        elif token == "}":
            if words:
                raise ConfigSyntaxError("syntax error, expecting ';'", words[-1], line)
            if len(stack) == 1:
                raise ConfigSyntaxError("syntax error", "}", line)
            stack.pop()
        else:
            words.append(token)
    if words:
        raise ConfigSyntaxError("syntax error, expecting ';' or '{'", words[-1], line)
    if len(stack) != 1:
        raise ConfigSyntaxError("syntax error, expecting '}'", "}", line)
    return root


_ENCRYPTED = re.compile(r'^"\$[169]\$')
_OBFUSCATED = frozenset({"authentication-key", "secret", "simple-password"})
"""Statements whose clear-text value Junos keeps as ``$9$`` (Juniper, "Junos OS User Access and
Authentication", *Encrypted passwords*: "the software encrypts the key ... and displays it as $9$...";
``show configuration`` marks each such line ``## SECRET-DATA``). A value given as ``$9$`` is kept as given."""


def _stored(words: tuple[str, ...]) -> tuple[str, ...]:
    if len(words) != 2 or words[0] not in _OBFUSCATED or _ENCRYPTED.match(words[1]):
        return words
    with warnings.catch_warnings():  # netutils imports the deprecated crypt module
        warnings.simplefilter("ignore", DeprecationWarning)
        password = importlib.import_module("netutils.password")
    clear = words[1][1:-1] if words[1].startswith('"') else words[1]
    return (words[0], f'"{password.encrypt_juniper_type9(clear)}"')  # netutils' $9$, not netimmutable's


def _add(into: list[Stmt], stmt: Stmt, depth: int, check_top_level: bool, line: int) -> list[Stmt]:
    if stmt.children is None:
        stmt = Stmt(_stored(stmt.words))
    if depth == 1 and check_top_level and stmt.words[0] not in TOP_LEVEL:
        raise ConfigSyntaxError("syntax error", stmt.words[0], line)
    for old in into:
        if old.key == stmt.key:
            if stmt.children is None:
                return into
            assert old.children is not None
            return old.children
    into.append(stmt)
    return into if stmt.children is None else stmt.children


def render(stmts: list[Stmt], depth: int = 0) -> str:
    """``show configuration`` text of ``stmts``."""
    out: list[str] = []
    for stmt in stmts:
        _render_into(stmt, "    " * depth, out)
    return "".join(line + "\n" for line in out)


def _render_into(stmt: Stmt, indent: str, out: list[str], step: str = "    ") -> None:
    text = " ".join(stmt.words)
    if stmt.children is None:
        secret = len(stmt.words) == 2 and _ENCRYPTED.match(stmt.words[1]) is not None
        out.append(f"{indent}{text};" + (" ## SECRET-DATA" if secret else ""))
        return
    out.append(f"{indent}{text} {{")
    for child in stmt.children:
        _render_into(child, indent + step, out, step)
    out.append(f"{indent}}}")


def merge(base: list[Stmt], extra: list[Stmt]) -> list[Stmt]:
    """``load merge``: ``extra`` added into a copy of ``base`` (a leaf with the same keyword is replaced)."""
    result = [s.copy() for s in base]
    _merge_into(result, extra)
    return result


def _merge_into(into: list[Stmt], extra: list[Stmt]) -> None:
    for stmt in extra:
        same = next((s for s in into if s.key == stmt.key), None)
        if same is not None and same.children is not None and stmt.children is not None:
            _merge_into(same.children, stmt.children)
            continue
        if same is not None:
            continue
        if stmt.children is None and len(stmt.words) == 2 and stmt.words[0] not in _KEYED:
            # a single-valued leaf (host-name, peer-as): the new value takes the old one's place
            index = next(
                (i for i, s in enumerate(into) if s.children is None and s.words[:1] == stmt.words[:1]), None
            )
            if index is not None:
                into[index] = stmt.copy()
                continue
        into.append(stmt.copy())


def find(stmts: list[Stmt] | None, *path: str) -> list[Stmt]:
    """Statements below the container whose words are ``path`` (``find(c, "protocols", "bgp")``)."""
    current = stmts or []
    for word in path:
        nxt = next((s for s in current if s.children is not None and " ".join(s.words) == word), None)
        if nxt is None or nxt.children is None:
            return []
        current = nxt.children
    return current


def diff(old: list[Stmt], new: list[Stmt]) -> str:
    """``show | compare`` of ``new`` (candidate) against ``old``; ``"\\n"`` when equal, as Junos sends."""
    out: list[str] = []
    _diff(old, new, [], out)
    return "\n" + "".join(line + "\n" for line in out)


def _diff(old: list[Stmt], new: list[Stmt], path: list[str], out: list[str]) -> None:
    base = " " * max(2, len(path) + 1)
    pending: list[str] = []
    new_keys = {s.key for s in new}
    old_by_key = {s.key: s for s in old}

    def flush() -> None:
        if pending:
            out.append("[edit" + "".join(" " + w for w in path) + "]")
            out.extend(pending)
            pending.clear()

    for stmt in old:
        if stmt.key not in new_keys:
            _signed(stmt, "-", base, pending)
    for stmt in new:
        before = old_by_key.get(stmt.key)
        if before is None:
            _signed(stmt, "+", base, pending)
        elif stmt.children is not None and before.children is not None:
            flush()
            _diff(before.children, stmt.children, [*path, *stmt.words], out)
    flush()


def _signed(stmt: Stmt, sign: str, indent: str, out: list[str]) -> None:
    lines: list[str] = []
    _render_into(stmt, "", lines)
    for line in lines:
        depth = (len(line) - len(line.lstrip(" "))) // 4
        out.append(f"{sign}{indent}{'    ' * depth}{line.lstrip(' ')}")


def to_xml(stmts: list[Stmt], parent: str = "") -> str:
    """The Junos XML form of ``stmts`` (``<system><host-name>r1</host-name></system>``), for the few
    statements PyEZ reads as XML (the ``domain`` fact asks for ``system/domain-name``)."""
    parts: list[str] = []
    for stmt in stmts:
        words = [w.strip('"') for w in stmt.words]
        kids = "" if stmt.children is None else to_xml(stmt.children, words[0])
        if len(words) == 1 and parent in _ENTRY_TAG and stmt.children is not None:
            tag, inner = _ENTRY_TAG[parent], f"<name>{escape(words[0])}</name>{kids}"
        elif len(words) == 1:
            tag, inner = words[0], kids
        elif words[0] in _KEYED:
            tag, inner = words[0], f"<name>{escape(' '.join(words[1:]))}</name>{kids}"
        elif stmt.children is not None:
            tag, inner = words[0], f"<{words[1]}>{kids}</{words[1]}>"
        else:
            tag, inner = words[0], escape(" ".join(words[1:]))
        parts.append(f"<{tag}>{inner}</{tag}>" if inner else f"<{tag}/>")
    return "".join(parts)
