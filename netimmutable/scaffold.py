"""``netimmutable init``: create a network repository (optionally with one of the example networks).

Examples (``EXAMPLES``: name -> folder shipped in the package):
    >>> sorted(EXAMPLES)
    ['multivendor', 'network']
    >>> example_dir("multivendor").name
    'example_multivendor'
"""

from __future__ import annotations

import shutil
from pathlib import Path

import git

from netimmutable.artifacts import git_env
from netimmutable.errors import RepoError
from netimmutable.repo import LOCAL_DIR
from netimmutable.settings import SETTINGS_FILE

__all__ = ["DEFAULT_EXAMPLE", "EXAMPLES", "EXAMPLE_DIR", "MULTIVENDOR_DIR", "example_dir", "init_repo"]

EXAMPLE_DIR = Path(__file__).parent / "example_network"
"""The default example: four FRR routers, eBGP in a ring (the network the local lab runs)."""
MULTIVENDOR_DIR = Path(__file__).parent / "example_multivendor"
"""An FRR hub with one eBGP session to an EOS, Junos, IOS-XR (NETCONF), NX-OS and IOS router each."""
DEFAULT_EXAMPLE = "network"
EXAMPLES = {DEFAULT_EXAMPLE: EXAMPLE_DIR, "multivendor": MULTIVENDOR_DIR}

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


def example_dir(name: str) -> Path:
    """The folder of example ``name`` (``EXAMPLES``); ``RepoError`` naming the known ones otherwise."""
    found = EXAMPLES.get(name)
    if found is None:
        raise RepoError(f"no example named {name!r}", hint="known examples: " + ", ".join(sorted(EXAMPLES)))
    return found


def init_repo(target: Path, *, example: bool | str = False) -> Path:
    """Create the layout, ``git init`` and make the first commit. Refuses a folder that is not empty.

    ``example``: an example's name (``EXAMPLES``), ``True`` for the default one, ``False`` for none."""
    name = DEFAULT_EXAMPLE if example is True else (example or None)
    source = example_dir(name) if name else None
    target = target.resolve()
    if target.exists() and any(target.iterdir()):
        raise RepoError(f"{target} exists and is not empty", hint="choose a new folder")
    target.mkdir(parents=True, exist_ok=True)
    if source is not None:
        # inputs only: the first `netimmutable commit` renders snapshots/ and makes the first release
        # (copied snapshots would land in the init commit, which is not a release, and the first
        # `diff` would show every device as added)
        for folder in ("inventory", "templates"):
            shutil.copytree(source / folder, target / folder, ignore=shutil.ignore_patterns(".*"))
        shutil.copyfile(source / SETTINGS_FILE, target / SETTINGS_FILE)
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
        "netimmutable init" + (f" (example {name})" if name else ""),
        env=git_env(gitrepo),
    )
    gitrepo.close()
    return target
