"""``hosts.yaml`` read host by host: each top-level entry parsed on its own, on every core, and cached.

Parsing YAML is most of a cold render (PyYAML constructs every value in Python, ~1 MB/s), and an edit of
one host changes the bytes of the whole file. So the file is split into *blocks*, one per top-level key:
a block starts at a line whose first character begins a plain or quoted key (a letter, a digit, ``_``,
``"`` or ``'``) and runs to the next such line (indented lines, ``- `` items of an indentless sequence,
comments and blank lines belong to the block above). Each block is parsed and validated alone, by the
same loader and the same checks as the whole file (``load_yaml_text``, ``host_name_problem``, the element
schema, credentials), on a pool of processes when there are
many, and its validated fields are cached by the sha256 of its bytes (``inventory_cache.BlockCache``).
An unchanged block is never parsed again.

A block read alone means what it means in the file, or the file is read whole, exactly as before, by
``inventory.load_inventory``'s own path (so every error is today's, with today's line):

- any line starting at column 0 with another character (``---``, ``...``, ``%`` directives, ``?``, an
  anchor, a tag, a flow collection, a BOM) or content before the first block;
- a possible anchor or alias (``&`` or ``*`` at the start of a node) anywhere: an alias in one block can
  name an anchor in another;
- a block that does not parse to exactly one key, a block that fails to parse or validate (the whole
  file then reports the first error as it always did), the same host name in two blocks.

Examples:
    >>> [(s, e, line) for s, e, line in split_blocks(b"# hosts\\nr1:\\n  platform: frr\\nr2: {}\\n")]
    [(8, 28, 2), (28, 35, 4)]
    >>> split_blocks(b"---\\nr1: {}\\n") is None, split_blocks(b"r1: &a {}\\nr2: *a\\n") is None
    (True, True)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netimmutable.errors import InputError
from netimmutable.inventory_cache import BlockCache
from netimmutable.procpool import ordered_map
from netimmutable.repo import NetworkRepo
from netimmutable.yamlio import LocatedDict, load_yaml_text

__all__ = [
    "BlockFields",
    "HostEntry",
    "ReadBlocks",
    "Unsplittable",
    "block_digests",
    "parse_blocks",
    "read_blocks",
    "split_blocks",
]

_LINE_START = re.compile(rb"\n(?=[^ \t\r\n#-])")
_CONTINUATION = b" \t\r\n#-"
_KEY_START = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_\"'")
_BEFORE_NODE = frozenset(b" \t\n[{,")
_NOT_A_NAME = (b"", b" ", b"\t", b"\r", b"\n")
_COMMENT_OR_BLANK = re.compile(rb"(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*(?:#[^\n]*)?")
POOL_MIN_BLOCKS = 16
"""Blocks to parse below which no worker process is started."""

Block = tuple[int, int, int]
"""(start offset, end offset, line number of its first line)."""


@dataclass(frozen=True, slots=True)
class BlockFields:
    """One host's validated entry: its name, its line in the file, its fields as ``load_inventory`` builds
    them (``hostname``, ``port``, ``username``, ``platform``, plain ``data``, ``connection_options`` as
    plain mappings, ``groups`` as names); ``text`` the same as JSON when it is plain JSON (then cached):
    the fields but ``data``, a tab, ``data`` (so a cached host's data is decoded only when read)."""

    name: str
    line: int
    fields: dict[str, Any]
    text: str | None


def split_blocks(raw: bytes) -> list[Block] | None:
    """The top-level entries of ``raw`` (see the module docstring), or None when it must be read whole."""
    starts = [m.start() + 1 for m in _LINE_START.finditer(raw)]
    if raw[:1] and raw[0] not in _CONTINUATION:
        starts.insert(0, 0)
    if not starts or any(raw[s] not in _KEY_START for s in starts):
        return None
    if _COMMENT_OR_BLANK.fullmatch(raw, 0, starts[0]) is None:
        return None  # content before the first key
    if _may_hold_anchor(raw):
        return None
    blocks: list[Block] = []
    line = raw.count(b"\n", 0, starts[0]) + 1
    ends = [*starts[1:], len(raw)]
    for start, end in zip(starts, ends, strict=True):
        blocks.append((start, end, line))
        line += raw.count(b"\n", start, end)
    return blocks


def _may_hold_anchor(raw: bytes) -> bool:
    """Whether ``raw`` may hold an anchor or alias: ``&`` or ``*`` where a node starts (line start, after
    a blank, ``[``, ``{`` or ``,``) followed by a name. Conservative: ``a *b`` in a plain scalar says yes."""
    for indicator in b"&*":
        at = raw.find(indicator)
        while at >= 0:
            if (at == 0 or raw[at - 1] in _BEFORE_NODE) and raw[at + 1 : at + 2] not in _NOT_A_NAME:
                return True
            at = raw.find(indicator, at + 1)
    return False


def block_digests(raw: bytes, blocks: Sequence[Block]) -> list[str]:
    view = memoryview(raw)
    return [hashlib.sha256(view[start:end]).hexdigest() for start, end, _ in blocks]


class Unsplittable(Exception):
    """A block that does not mean alone what it means in the file, or that fails: read the file whole."""


def _parse_one(raw: bytes, label: str, block: Block) -> BlockFields | None:
    """The block's validated fields; None when the file must be read whole."""
    from netimmutable.inventory import host_fields  # the same checks as the whole-file path

    start, end, line = block
    try:
        text = raw[start:end].decode("utf-8")
        root = load_yaml_text(text, label)  # an error is never shown: the whole file is read then
        if not isinstance(root, LocatedDict) or len(root) != 1:
            return None
        name = next(iter(root))
        fields = host_fields(root, name, label)
    except (InputError, UnicodeDecodeError):
        return None
    try:
        # Data values are plain (to_plain: str keys, lists, scalars): what JSON cannot hold exactly (a date,
        # NaN) fails to dump. Connection option extras may hold located dicts: compared type by type.
        meta = {key: value for key, value in fields.items() if key != "data"}
        meta_text = json.dumps(meta, allow_nan=False)
        dumped: str | None = f"{meta_text}\t{json.dumps(fields['data'], allow_nan=False)}"
        if not _same(json.loads(meta_text)["connection_options"], fields["connection_options"]):
            dumped = None
    except (TypeError, ValueError, RecursionError):
        dumped = None
    return BlockFields(name=name, line=line + root.line_of(name) - 1, fields=fields, text=dumped)


def _parse_chunk(state: tuple[bytes, str], blocks: Sequence[Block]) -> list[BlockFields | None]:
    raw, label = state
    return [_parse_one(raw, label, block) for block in blocks]


def parse_blocks(raw: bytes, label: str, blocks: Sequence[Block], processes: int) -> list[BlockFields]:
    """Parse ``blocks`` of ``raw`` (on ``processes`` worker processes when there are many), in order.
    Raises ``Unsplittable`` when one of them cannot be read alone (or fails)."""
    parsed: list[BlockFields] = []
    for item in ordered_map(
        _parse_chunk, list(blocks), state=(raw, label), processes=processes, min_items=POOL_MIN_BLOCKS
    ):
        if item is None:
            raise Unsplittable
        parsed.append(item)
    return parsed


@dataclass(frozen=True, slots=True)
class HostEntry:
    """One host as read from its block: fresh (``data`` in ``fields``) or cached (``data_text``)."""

    name: str
    line: int
    fields: dict[str, Any]
    data_text: str | None
    digest: str
    """sha256 of the block's bytes."""


@dataclass(frozen=True, slots=True)
class ReadBlocks:
    entries: tuple[HostEntry, ...]
    cache: BlockCache
    parsed: int
    """Blocks parsed (not taken from the cache)."""

    def save(self) -> None:
        """Keep the cache entries of exactly the file's blocks (when any was parsed or dropped)."""
        texts = self.cache.texts
        current = [(e.digest, texts[e.digest]) for e in self.entries if e.digest in texts]
        self.cache.save(current, changed=bool(self.parsed) or len(current) != len(texts))


def read_blocks(repo: NetworkRepo, raw: bytes, label: str, processes: int) -> ReadBlocks | None:
    """Every host of ``raw`` (``hosts.yaml``'s bytes), from the block cache or parsed (on ``processes``
    worker processes when many); None when the file must be read whole."""
    blocks = split_blocks(raw)
    if blocks is None:
        return None
    digests = block_digests(raw, blocks)
    cache = BlockCache.open(repo)
    cached = [cache.get(d) for d in digests]
    todo = [index for index, entry in enumerate(cached) if entry is None]
    try:
        parsed = iter(parse_blocks(raw, label, [blocks[i] for i in todo], processes))
    except Unsplittable:
        return None
    entries: list[HostEntry] = []
    for (_start, _end, first_line), digest, hit in zip(blocks, digests, cached, strict=True):
        if hit is not None:
            name, relative, fields, data_text = hit
            entries.append(HostEntry(name, first_line + relative, fields, data_text, digest))
            continue
        item = next(parsed)
        if item.text is not None:
            cache.texts[digest] = BlockCache.entry_text(item.name, item.line - first_line, item.text)
        entries.append(HostEntry(item.name, item.line, item.fields, None, digest))
    if len({e.name for e in entries}) != len(entries):
        return None  # a host twice: the whole-file path names both lines
    return ReadBlocks(entries=tuple(entries), cache=cache, parsed=len(todo))


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``{"a": 1} == LocatedDict(a=1)`` is True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
