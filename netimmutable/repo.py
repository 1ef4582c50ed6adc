"""Locating a network repository and the paths inside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from netimmutable.errors import RepoError
from netimmutable.settings import SETTINGS_FILE, Settings, load_settings

__all__ = ["LOCAL_DIR", "NetworkRepo", "find_repo", "open_repo"]

LOCAL_DIR = ".netimmutable"
"""Untracked, git-ignored local state: connections, lab, journal, locks, saved plans."""


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
