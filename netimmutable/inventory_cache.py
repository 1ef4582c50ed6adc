"""What the inventory loader caches: each host's validated entry by the bytes of its block of ``hosts.yaml``.

``inventory_blocks`` splits ``hosts.yaml`` into one block per host; ``BlockCache`` keeps, for the sha256 of
each block's bytes, the host's name, its line within the block and its validated fields (plain JSON), in
``.netimmutable/cache/inventory-blocks.jsonl``: one line per block, ``<sha256> <json>``, after a first
line naming the format and the loader's source digest (a changed loader invalidates every block). A block
whose bytes are unchanged is not parsed again wherever it moved in the file; ``groups.yaml`` and
``defaults.yaml`` are small and parsed every time. Only plain JSON data is cached: a block holding a date,
a NaN or an ordered pair is parsed every time.

``InventoryCache`` is the key of the three files' bytes and a stat probe of them: what the stat table of
``snapshots/`` (``render_cache.inputs_key``) records a complete render's inventory by.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netimmutable import __version__
from netimmutable.localcache import digest_of, read_text_entry, source_digest, write_entry
from netimmutable.repo import NetworkRepo

__all__ = ["INVENTORY_FILES", "BlockCache", "InventoryCache"]

INVENTORY_FILES = ("hosts.yaml", "groups.yaml", "defaults.yaml")
_BLOCKS = "inventory-blocks.jsonl"
_Probe = tuple[tuple[str, int, int, int], ...]


def _loader_digest() -> str:
    return digest_of(
        __version__,
        source_digest("inventory.py", "inventory_blocks.py", "inventory_cache.py", "yamlio.py"),
    )


@dataclass(slots=True)
class BlockCache:
    """One ``load_inventory`` call's view of the block cache."""

    repo: NetworkRepo
    key: str
    texts: dict[str, str] = field(default_factory=dict)
    """Block sha256 -> its entry's JSON text (``{"name", "line", "fields"}``)."""

    @classmethod
    def open(cls, repo: NetworkRepo) -> BlockCache:
        key = _loader_digest()
        cache = cls(repo=repo, key=key)
        text = read_text_entry(repo.local_dir, _BLOCKS)
        if not text:
            return cache
        head, _, body = text.partition("\n")
        try:
            if json.loads(head) != {"format": 1, "key": key}:
                return cache
        except ValueError:
            return cache
        for line in body.splitlines():
            digest, sep, entry = line.partition(" ")
            if sep and len(digest) == 64:
                cache.texts[digest] = entry
        return cache

    def get(self, digest: str) -> tuple[str, int, dict[str, Any], str] | None:
        """(host name, line within the block, fields but ``data``, the JSON text of ``data``) of the block,
        or None (absent or corrupt)."""
        text = self.texts.get(digest)
        if text is None:
            return None
        head, tab, data = text.partition("\t")
        if not tab:
            return None
        try:
            entry = json.loads(head)
            name, line, fields = entry["name"], entry["line"], entry["fields"]
        except (ValueError, TypeError, KeyError):
            return None
        if type(name) is not str or type(line) is not int or not isinstance(fields, dict):
            return None
        return name, line, fields, data

    @staticmethod
    def entry_text(name: str, line: int, fields_text: str) -> str:
        """An entry's text from ``BlockFields.text`` (the fields but data, a tab, the data)."""
        meta, _, data = fields_text.partition("\t")
        return f'{{"name": {json.dumps(name)}, "line": {line}, "fields": {meta}}}\t{data}'

    def save(self, blocks: Iterable[tuple[str, str]], changed: bool) -> None:
        """Keep exactly ``blocks`` ((sha256, entry text) of the file's cacheable blocks), when ``changed``."""
        if not changed:
            return
        head = json.dumps({"format": 1, "key": self.key})
        lines = [head, *(f"{digest} {text}" for digest, text in blocks)]
        write_entry(self.repo.local_dir, _BLOCKS, "\n".join(lines) + "\n")

    def inputs_digest(self, block_digest: str, shared: str) -> str:
        """What a host's resolved data is a function of: the loader, its block, groups and defaults."""
        return digest_of(self.key, block_digest, shared)


@dataclass(slots=True)
class InventoryCache:
    """The key of the inventory files' bytes, taken before parsing, and their stat probe."""

    repo: NetworkRepo
    key: str | None
    probe: _Probe | None

    @classmethod
    def open(cls, repo: NetworkRepo) -> InventoryCache:
        probe, key = cls._key(repo)
        return cls(repo=repo, key=key, probe=probe)

    @staticmethod
    def _key(repo: NetworkRepo) -> tuple[_Probe | None, str | None]:
        parts: list[bytes | str] = [_loader_digest()]
        probe: list[tuple[str, int, int, int]] = []
        try:
            for name in INVENTORY_FILES:
                path = repo.inventory_dir / name
                parts.append(repo.relative(path))
                if not path.exists():
                    parts.append("(absent)")
                    continue
                stat = path.stat()
                probe.append((name, stat.st_mtime_ns, stat.st_size, stat.st_ino))
                parts.append(path.read_bytes())
        except OSError:
            return None, None
        return tuple(probe), digest_of(*parts)
