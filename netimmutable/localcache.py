"""A local cache of derived data in ``.netimmutable/cache/``: never committed, always safe to delete.

Rendering is deterministic, so what was derived from byte-identical inputs can be reused: the parsed and
validated inventory, and which artifact each host rendered to. Every entry is keyed by a digest of
everything it was derived from (input bytes, netimmutable's own source, library versions); anything else,
a missing, unreadable, corrupt or foreign entry included, is a miss and the work is done again.

Entries are JSON, never pickle: loading an entry must not be able to run code. The folder holds its own
``.gitignore`` (``*``), so it never makes a working tree dirty, even where ``.netimmutable/`` itself is
not ignored. A failed write (read-only checkout, full disk) is ignored. ``NETIMMUTABLE_NO_CACHE=1``
turns the cache off.

Examples:
    >>> digest_of(b"a", "b") == digest_of(b"a", "b"), digest_of(b"a", "b") == digest_of(b"ab")
    (True, False)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_DIR",
    "DISABLE_ENV",
    "cache_enabled",
    "digest_of",
    "entry_text",
    "read_entry",
    "read_stamped_entry",
    "read_text_entry",
    "source_digest",
    "write_entry",
]

CACHE_DIR = "cache"
DISABLE_ENV = "NETIMMUTABLE_NO_CACHE"
_FORMAT = 1


def cache_enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "") in ("", "0")


def digest_of(*parts: bytes | str) -> str:
    """sha256 over ``parts``, each length-prefixed (so part boundaries count)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def source_digest(*modules: str) -> str:
    """Digest of netimmutable's own source files (``render.py`` ...): a changed rule invalidates entries."""
    here = Path(__file__).parent
    return digest_of(*(here.joinpath(name).read_bytes() for name in modules))


def read_entry(local_dir: Path, name: str) -> dict[str, Any] | None:
    """The cache entry ``name`` as a JSON object, or None (absent, unreadable, corrupt, other format)."""
    stamped = read_stamped_entry(local_dir, name)
    return None if stamped is None else stamped[0]


def read_stamped_entry(local_dir: Path, name: str) -> tuple[dict[str, Any], int] | None:
    """Like ``read_entry``, with the entry file's mtime (ns): the file system's clock when it was written."""
    if not cache_enabled():
        return None
    try:
        with (local_dir / CACHE_DIR / name).open("rb") as handle:
            mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return None
    return data, mtime_ns


def read_text_entry(local_dir: Path, name: str) -> str | None:
    """The text of entry ``name`` as written (an entry in a format of its own, e.g. JSON lines), or None."""
    if not cache_enabled():
        return None
    try:
        return (local_dir / CACHE_DIR / name).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def write_entry(local_dir: Path, name: str, data: dict[str, Any] | str) -> None:
    """Write entry ``name`` atomically (temp file + rename); ``data`` is a JSON object or its text."""
    if not cache_enabled():
        return
    folder = local_dir / CACHE_DIR
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# netimmutable's local cache: never committed, safe to delete\n*\n")
        text = data if isinstance(data, str) else json.dumps({**data, "format": _FORMAT})
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / name)
    except (OSError, TypeError, ValueError):
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def entry_text(data: dict[str, Any]) -> str:
    """``data`` as entry text (adds the format marker); raises TypeError/ValueError when not plain JSON."""
    return json.dumps({**data, "format": _FORMAT}, allow_nan=False)
