"""``netimmutable init``: create a network repository (optionally with the example network)."""

from __future__ import annotations

import shutil
from pathlib import Path

import git

from netimmutable.artifacts import git_env
from netimmutable.errors import RepoError
from netimmutable.repo import LOCAL_DIR
from netimmutable.settings import SETTINGS_FILE

__all__ = ["EXAMPLE_DIR", "init_repo"]

EXAMPLE_DIR = Path(__file__).parent / "example_network"

SETTINGS_TEMPLATE = """\
# netimmutable settings. Every key is optional; the values shown are the defaults.
version: 1
inventory_dir: inventory        # Nornir SimpleInventory: hosts.yaml, groups.yaml, defaults.yaml
templates_dir: templates        # entry template: host data `template`, else <platform>/main.j2
snapshots_dir: snapshots        # rendered artifacts: <host>.cfg and <host>.expect.yaml
approval_branch: main           # deploy pushes only releases reachable from this branch
deploy:
  batch_size: 10
  workers: 10
  canary: 1
  max_failures: 1
  on_failure: stop              # stop | rollback-all | continue
  revert_in: 300                # seconds; device-side revert timer where the platform has one
  settle_timeout: 60            # seconds post-checks wait for expectations to hold
  soak: auto                    # then keep holding this long before the confirm (auto: BGP hold time + 2 s)
verify:
  workers: 50
"""

EMPTY_FILES = {
    "inventory/hosts.yaml": "# Nornir SimpleInventory hosts: name -> {platform, groups, data}\n{}\n",
    "inventory/groups.yaml": "{}\n",
    "inventory/defaults.yaml": "{}\n",
    "templates/.gitkeep": "",
    "snapshots/.gitkeep": "",
}


def init_repo(target: Path, *, example: bool = False) -> Path:
    """Create the layout, ``git init`` and make the first commit. Refuses a folder that is not empty."""
    target = target.resolve()
    if target.exists() and any(target.iterdir()):
        raise RepoError(f"{target} exists and is not empty", hint="choose a new folder")
    target.mkdir(parents=True, exist_ok=True)
    if example:
        # inputs only: the first `netimmutable commit` renders snapshots/ and makes the first release
        # (copied snapshots would land in the init commit, which is not a release, and the first
        # `diff` would show every device as added)
        for name in ("inventory", "templates"):
            shutil.copytree(EXAMPLE_DIR / name, target / name, ignore=shutil.ignore_patterns(".*"))
        shutil.copyfile(EXAMPLE_DIR / SETTINGS_FILE, target / SETTINGS_FILE)
        (target / "snapshots").mkdir()
        (target / "snapshots" / ".gitkeep").write_text("")
    else:
        (target / SETTINGS_FILE).write_text(SETTINGS_TEMPLATE)
        for rel, content in EMPTY_FILES.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    (target / ".gitignore").write_text(f"# local state: connections, lab, journal, locks\n/{LOCAL_DIR}/\n")
    gitrepo = git.Repo.init(target, initial_branch="main")
    gitrepo.git.add("--all")
    gitrepo.git.commit(
        "--quiet",
        "--no-verify",
        "-m",
        "netimmutable init" + (" (example network)" if example else ""),
        env=git_env(gitrepo),
    )
    gitrepo.close()
    return target
