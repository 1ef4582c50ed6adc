"""Reading git's ``packed-refs`` file defensively, for the records (``netimmutable.records``).

Git keeps refs either as loose files or as lines of ``<git common dir>/packed-refs``: ``<object id> <ref>``,
``^<object id>`` (the peeled value of the line before) and ``#`` comments. A line that is none of these makes
git stop at once for every command that reads packed refs ("unexpected line"); GitPython reads it as a ref
that does not exist. Neither may decide anything about a record: this module finds such lines, so the
records can name the file and the ref instead of reading "no ref" or printing a traceback.

Examples:
    >>> import tempfile
    >>> common = Path(tempfile.mkdtemp())
    >>> _ = (common / PACKED_REFS).write_text(
    ...     "# pack-refs with: peeled fully-peeled sorted\\n"
    ...     + "1" * 40 + " refs/netimmutable/good/r1\\n"
    ...     + "zzzz refs/netimmutable/good/r3\\n"
    ... )
    >>> bad_packed_lines(common)
    ((3, 'zzzz refs/netimmutable/good/r3', 'refs/netimmutable/good/r3'),)
    >>> packed_ref_names(common, "refs/netimmutable/good/")
    ('refs/netimmutable/good/r1', 'refs/netimmutable/good/r3')
    >>> packed_problem(common, "refs/netimmutable/good/r1") is None
    True
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["PACKED_REFS", "bad_packed_lines", "packed_problem", "packed_ref_names"]

PACKED_REFS = "packed-refs"

_OBJECT_ID = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})")
_REF_LINE = re.compile(rf"{_OBJECT_ID.pattern} (refs/\S+)")
_PEELED_LINE = re.compile(rf"\^{_OBJECT_ID.pattern}")

_MAX_SHOWN = 80
"""A bad line is shown up to this many characters (it may be anything)."""


def _lines(common_dir: Path) -> list[str]:
    try:
        raw = (common_dir / PACKED_REFS).read_bytes()
    except FileNotFoundError:
        return []
    return raw.decode("utf-8", errors="replace").splitlines()


def bad_packed_lines(common_dir: Path) -> tuple[tuple[int, str, str | None], ...]:
    """Every line of ``packed-refs`` git would not read: (line number, the line shortened, the ref it names
    or None when it names none)."""
    bad: list[tuple[int, str, str | None]] = []
    for number, line in enumerate(_lines(common_dir), start=1):
        if not line or line.startswith("#") or _REF_LINE.fullmatch(line) or _PEELED_LINE.fullmatch(line):
            continue
        fields = line.split()
        named = next((f for f in fields if f.startswith("refs/")), None)
        bad.append((number, line[:_MAX_SHOWN], named))
    return tuple(bad)


def packed_problem(common_dir: Path, ref: str) -> tuple[int, str] | None:
    """(line number, line) of the bad ``packed-refs`` line that may hold ``ref``: one naming it, or one
    naming no ref at all (it could be any); None when no bad line concerns ``ref``."""
    for number, line, named in bad_packed_lines(common_dir):
        if named in (ref, None):
            return number, line
    return None


def packed_ref_names(common_dir: Path, prefix: str) -> tuple[str, ...]:
    """Every ref under ``prefix`` that ``packed-refs`` names, on good lines and bad ones alike."""
    names = {
        field
        for line in _lines(common_dir)
        if not line.startswith(("#", "^"))
        for field in line.split()[1:2]
        if field.startswith(prefix)
    }
    return tuple(sorted(names))
