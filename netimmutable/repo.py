"""Locating a network repository and the paths inside it."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

from netimmutable.errors import RepoError
from netimmutable.settings import SETTINGS_FILE, Settings, load_settings

__all__ = [
    "ADOPTED_TEMPLATE_DIR",
    "LOCAL_DIR",
    "SHARED_DIR",
    "NetworkRepo",
    "find_repo",
    "git_common_dir",
    "open_repo",
]

LOCAL_DIR = ".netimmutable"
"""Untracked, git-ignored local state of one working tree: connections, lab, caches, saved plans."""
SHARED_DIR = "netimmutable"
"""State of the repository (every worktree's): locks and the journal, in git's common dir."""
ADOPTED_TEMPLATE_DIR = "adopted"
"""``templates/adopted/<host>.j2``: a host's running config taken verbatim by ``adopt`` (``metrics`` counts
hosts whose entry template lies there as adopted, not templated)."""


@functools.lru_cache(maxsize=64)
def git_common_dir(root: Path) -> Path | None:
    """git's common dir of the repository ``root`` is in (``git rev-parse --git-common-dir``): the same
    for every worktree of one repository; None outside git.

    Read from the files git writes (``.git`` folder, or a worktree's ``.git`` file and its ``commondir``)
    without starting git; anything else asks git.
    """
    dot_git = root / ".git"
    try:
        if dot_git.is_dir():
            return dot_git.resolve()
        if dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir: "):
                gitdir = (root / text.removeprefix("gitdir: ").strip()).resolve()
                common = gitdir / "commondir"
                if common.is_file():
                    return (gitdir / common.read_text(encoding="utf-8").strip()).resolve()
                return gitdir
    except OSError:
        pass
    proc = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--path-format=absolute", "--git-common-dir"],
        capture_output=True,
        text=True,
        check=False,
    )
    out = proc.stdout.strip()
    return Path(out) if proc.returncode == 0 and out else None


def find_repo(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``netimmutable.yaml``."""
    origin = (start or Path.cwd()).resolve()
    if start is not None and not (origin / SETTINGS_FILE).is_file():
        raise RepoError(
            f"{origin} is not a network repository (no {SETTINGS_FILE})",
            hint="create one with `netimmutable init DIR`",
        )
    for folder in (origin, *origin.parents):
        if (folder / SETTINGS_FILE).is_file():
            return folder
    raise RepoError(
        f"no {SETTINGS_FILE} in {origin} or any parent folder",
        hint="run inside a network repository, pass --repo, or create one with `netimmutable init DIR`",
    )


@dataclass(frozen=True, slots=True)
class NetworkRepo:
    """A network repository's root and settings, with the paths derived from them."""

    root: Path
    settings: Settings

    @property
    def inventory_dir(self) -> Path:
        return self.root / self.settings.inventory_dir

    @property
    def templates_dir(self) -> Path:
        return self.root / self.settings.templates_dir

    @property
    def snapshots_dir(self) -> Path:
        return self.root / self.settings.snapshots_dir

    @property
    def local_dir(self) -> Path:
        return self.root / LOCAL_DIR

    @property
    def shared_dir(self) -> Path:
        """Locks and journal: ``<git common dir>/netimmutable``, one lock domain for every worktree of the
        repository (``.netimmutable/`` when the repository is not in git)."""
        common = git_common_dir(self.root)
        return common / SHARED_DIR if common is not None else self.local_dir

    @property
    def connections_file(self) -> Path:
        return self.root / self.settings.connections_file

    def relative(self, path: Path) -> str:
        """``path`` relative to the repo root, as shown in messages and stored in git."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def open_repo(start: Path | None = None) -> NetworkRepo:
    """Find the network repository from ``start`` (or the cwd) and load its settings."""
    root = find_repo(start)
    return NetworkRepo(root=root, settings=load_settings(root))
