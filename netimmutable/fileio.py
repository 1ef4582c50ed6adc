"""Crash-safe file writes shared by every module that keeps state on disk.

Examples:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_text(folder / "state.json", "{}\\n")
    >>> (folder / "state.json").read_text()
    '{}\\n'
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from netimmutable.errors import InputError

__all__ = ["StagedFiles", "atomic_write_all", "atomic_write_text", "fsync_dir", "refuse_links"]


def refuse_links(root: Path, path: Path) -> None:
    """Refuse ``path`` (inside ``root``) when it, or a folder between ``root`` and it, is a symbolic link,
    or when it exists and is not a regular file. A missing file is left to the caller to report.

    Every file netimmutable reads from a network repository goes through this: a link could lead out of
    the repository (git would hold only the link) or to a device node, a FIFO, ``/proc``.
    """
    try:
        relative = path.relative_to(root)
    except ValueError:
        raise InputError("is outside the repository", file=str(path)) from None
    current = root
    for index, part in enumerate(relative.parts):
        current = current / part
        label = Path(*relative.parts[: index + 1]).as_posix()
        try:
            mode = current.lstat().st_mode
        except FileNotFoundError:
            return
        except OSError as exc:
            raise InputError(f"cannot be read ({exc.strerror})", file=label) from None
        if stat.S_ISLNK(mode):
            raise InputError(
                "is a symbolic link; files read from the repository must be regular files inside it",
                file=label,
                hint="replace the link by the file itself (git would hold only the link)",
            )
        last = index == len(relative.parts) - 1
        if last and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            raise InputError("is not a regular file", file=label)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str, *, durable: bool = False) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new content, never a part.

    A temporary file in the same folder (unique per process and thread) is renamed over ``path``.
    ``durable`` also fsyncs the file and its folder, for state that must survive a power cut.
    """
    tmp = _temporary_copy(path, text, durable=durable)
    try:
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_all(files: Mapping[Path, str]) -> None:
    """Write every file of ``files`` (path -> text) so that a failure while writing changes none of them.

    Every new content goes to a temporary file beside its path first; only when all are written are they
    renamed over their paths (a rename needs no free space). A failure while writing (a full disk) removes
    the temporary files and raises the ``OSError`` with ``filename`` the file it was writing; the files
    are as they were. (A rename that fails after others succeeded would leave some renamed: a file system
    that refuses a rename in a folder it just wrote to is not handled.)
    """
    written: list[tuple[Path, Path]] = []
    try:
        for path, text in files.items():
            written.append((_temporary_copy(path, text, durable=False), path))
        for tmp, path in written:
            tmp.replace(path)
    except BaseException:
        for tmp, _path in written:
            tmp.unlink(missing_ok=True)
        raise


class StagedFiles:
    """``atomic_write_all`` for files that arrive one at a time: each text goes to a temporary file beside
    its path as soon as it is staged (so the caller need not keep it), and only ``commit`` renames them all
    over their paths; ``discard`` (or leaving a ``with`` block by an exception) removes them, leaving every
    path as it was. A failure while staging raises the ``OSError`` naming the file's path."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self.discard()

    def __len__(self) -> int:
        return len(self._staged)

    def stage(self, path: Path, text: str) -> None:
        self._staged.append((_temporary_copy(path, text, durable=False), path))

    def commit(self) -> list[Path]:
        """Rename every staged file over its path; the paths, in the order staged."""
        staged, self._staged = self._staged, []
        try:
            for index, (tmp, path) in enumerate(staged):
                tmp.replace(path)
                staged[index] = (path, path)
        except BaseException:
            for tmp, path in staged:
                if tmp != path:
                    tmp.unlink(missing_ok=True)
            raise
        return [path for _, path in staged]

    def discard(self) -> None:
        staged, self._staged = self._staged, []
        for tmp, _path in staged:
            tmp.unlink(missing_ok=True)


def _temporary_copy(path: Path, text: str, *, durable: bool) -> Path:
    """``text`` in a new temporary file beside ``path`` (unique per process and thread); an ``OSError``
    names ``path`` and leaves no temporary file."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp
