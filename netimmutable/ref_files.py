"""Reading git refs from their files defensively, for the records (``netimmutable.records``).

Git keeps a ref either as a loose file (``<object id>`` or ``ref: <other ref>``) or as a line of
``<git common dir>/packed-refs``: ``<object id> <ref>``, ``^<object id>`` (the peeled value of the line
before) and ``#`` comments. ``resolve_ref`` reads them in process, as ``git rev-parse`` would; anything
else is a ``RefProblem`` saying which file (and line) and why: an empty or garbage loose file, a symbolic
ref loop, a ``packed-refs`` line that is none of the above (git stops at it for every command that reads
packed refs; GitPython reads it as a ref that does not exist, asserts on an empty loose file and follows
a symbolic-ref loop forever). Nothing about a record is decided from such a ref.

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
    >>> resolve_ref(common, common, "refs/netimmutable/good/r1") == "1" * 40
    True
    >>> resolve_ref(common, common, "refs/netimmutable/good/r2") is None
    True
    >>> resolve_ref(common, common, "refs/netimmutable/good/r3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    netimmutable.ref_files.RefProblem: line 3 of packed-refs is not '<object id> <ref>': ...
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PACKED_REFS",
    "RefProblem",
    "bad_packed_lines",
    "packed_problem",
    "packed_ref_names",
    "resolve_ref",
]

PACKED_REFS = "packed-refs"

_OBJECT_ID = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})")
_REF_LINE = re.compile(rf"{_OBJECT_ID.pattern} (refs/\S+)")
_PEELED_LINE = re.compile(rf"\^{_OBJECT_ID.pattern}")

_MAX_SHOWN = 80
"""A bad line is shown up to this many characters (it may be anything)."""
_MAX_DEPTH = 5
"""Symbolic refs followed at most this deep (git's own limit): deeper is a loop."""
_PER_WORKTREE = ("HEAD", "refs/bisect/", "refs/worktree/", "refs/rewritten/")
"""Refs that live in a worktree's own git folder, not in the common one."""


class RefProblem(Exception):
    """A ref's file (or its ``packed-refs`` line) is not what git writes."""

    def __init__(self, why: str, path: Path, line: int | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.path = path
        self.line = line


@dataclass(frozen=True, slots=True)
class _Packed:
    """``packed-refs`` parsed once: its lines, ref -> object id (good lines), and the bad lines."""

    lines: tuple[str, ...]
    refs: Mapping[str, str]
    bad: tuple[tuple[int, str, str | None], ...]


_CACHE: dict[Path, tuple[bytes, _Packed]] = {}
"""The last parse of each ``packed-refs``, with the bytes it was parsed from: reading the file is cheap,
parsing it per ref read is not (a fleet's good refs, once ``git gc`` packed them, are thousands of lines)."""
_EMPTY = _Packed((), {}, ())


def _parsed(common_dir: Path) -> _Packed:
    path = common_dir / PACKED_REFS
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return _EMPTY
    except OSError as exc:
        raise RefProblem(f"cannot be read ({exc.strerror or exc})", path) from None
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == raw:
        return cached[1]
    lines = tuple(raw.decode("utf-8", errors="replace").splitlines())
    refs: dict[str, str] = {}
    bad: list[tuple[int, str, str | None]] = []
    for number, line in enumerate(lines, start=1):
        if not line or line.startswith("#") or _PEELED_LINE.fullmatch(line):
            continue
        match = _REF_LINE.fullmatch(line)
        if match is not None:
            refs.setdefault(match.group(1), line.split(" ", 1)[0])
            continue
        named = next((f for f in line.split() if f.startswith("refs/")), None)
        bad.append((number, line[:_MAX_SHOWN], named))
    packed = _Packed(lines, types.MappingProxyType(refs), tuple(bad))
    _CACHE[path] = (raw, packed)
    return packed


def bad_packed_lines(common_dir: Path) -> tuple[tuple[int, str, str | None], ...]:
    """Every line of ``packed-refs`` git would not read: (line number, the line shortened, the ref it names
    or None when it names none)."""
    return _parsed(common_dir).bad


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
        for line in _parsed(common_dir).lines
        if not line.startswith(("#", "^"))
        for field in line.split()[1:2]
        if field.startswith(prefix)
    }
    return tuple(sorted(names))


def resolve_ref(git_dir: Path, common_dir: Path, name: str) -> str | None:
    """The object id ref ``name`` holds (symbolic refs followed), None when there is no such ref;
    ``RefProblem`` when its loose file or ``packed-refs`` line is not what git writes."""
    seen = [name]
    current = name
    for _ in range(_MAX_DEPTH + 1):
        folder = git_dir if current.startswith(_PER_WORKTREE) else common_dir
        value, path = _loose(folder / current)
        if value is None:
            return _packed(common_dir, current)
        if value.startswith("ref:"):
            current = value.removeprefix("ref:").strip()
            if not current or current in seen:
                raise RefProblem(
                    f"is a symbolic ref loop or to nothing ({' -> '.join([*seen, current])})", path
                )
            seen.append(current)
            continue
        token = value.split(maxsplit=1)[0] if value else ""  # git allows text after the id and a space
        if not _OBJECT_ID.fullmatch(token):
            raise RefProblem("holds no object id" if value else "is empty", path)
        return token
    raise RefProblem(f"is a chain of symbolic refs deeper than {_MAX_DEPTH}", common_dir / name)


def _loose(path: Path) -> tuple[str | None, Path]:
    """The stripped text of a loose ref file; None when there is none (a folder is a namespace)."""
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None, path
    except OSError as exc:
        raise RefProblem(f"cannot be read ({exc.strerror or exc})", path) from None
    return raw.decode("utf-8", errors="replace").strip(), path


def _packed(common_dir: Path, name: str) -> str | None:
    bad = packed_problem(common_dir, name)
    if bad is not None:
        number, line = bad
        raise RefProblem(
            f"line {number} of {PACKED_REFS} is not '<object id> <ref>': {line!r}",
            common_dir / PACKED_REFS,
            number,
        )
    return _parsed(common_dir).refs.get(name)
