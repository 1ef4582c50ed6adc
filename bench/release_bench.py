"""Release: `netimmutable commit` vs plain `git add -A && git commit` on copies of the same tree.

The tree is what a user has before committing: inventory, templates and freshly rendered snapshots
(`netimmutable render` ran, as it does before review). Two copies start byte-equal; one is committed by
netimmutable (which re-checks the render: through its stat table of snapshots/ when the inputs are those the
render saw; computes the artifact digest and commits only release paths),
the other by plain git. Then 5% of the hosts change, both trees get the same new files, and both commit again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from bench.common import BenchResult, quiet, timed
from bench.synth import SynthSpec, mutate_hosts, write_network

__all__ = ["run"]

FULL_HOSTS = 5000  # x 2 artifacts (config + expectations) = 10,000 artifacts
QUICK_HOSTS = 100
CHANGE_EVERY = 20  # 5%


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _cli(root: Path, *args: str) -> None:
    from netimmutable.cli import main

    with quiet():
        code = main([*args, "--repo", str(root)], standalone_mode=False)
    if code not in (None, 0):
        raise RuntimeError(f"netimmutable {' '.join(args)} exited {code}")


def _init_git(root: Path) -> None:
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.name", "Bench")
    _git(root, "config", "user.email", "bench@example.invalid")
    _git(root, "config", "commit.gpgsign", "false")


def _plain_commit(root: Path, message: str) -> None:
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)


def _settle(*roots: Path) -> None:
    """Before a timed commit: wait for git's background auto gc in ``roots`` (a commit of 10,000 new loose
    objects starts one) and flush what the setup wrote (46 MB of snapshots, the copy for git), so neither
    side pays for the other's work."""
    deadline = time.monotonic() + 300
    while any((root / ".git" / "gc.pid").exists() for root in roots) and time.monotonic() < deadline:
        time.sleep(0.5)
    os.sync()
    time.sleep(2)


def _sync_changed(src: Path, dst: Path) -> int:
    """Copy files of src's inventory/ and snapshots/ whose bytes differ in dst (so untouched files keep their
    stat data, as in a real working tree). Returns how many were copied."""
    copied = 0
    for folder in ("inventory", "snapshots"):
        for path in (src / folder).iterdir():
            target = dst / folder / path.name
            if not target.exists() or target.read_bytes() != path.read_bytes():
                shutil.copy2(path, target)
                copied += 1
    return copied


def run(work: Path, quick: bool, hosts: int | None = None) -> BenchResult:
    count = hosts or (QUICK_HOSTS if quick else FULL_HOSTS)
    spec = SynthSpec(hosts=count, interfaces=8, static_routes=8, announce=4, prefix_list_entries=8)
    result = BenchResult("release")
    nim = work / "release" / "nim"
    plain = work / "release" / "git"
    nim.mkdir(parents=True)
    write_network(nim, spec)
    _init_git(nim)
    with timed() as first_render:
        _cli(nim, "render")
    shutil.copytree(nim, plain, symlinks=True)
    artifacts = len(list((nim / "snapshots").iterdir()))
    result.inputs = {
        "hosts": count,
        "artifacts": artifacts,
        "snapshot_bytes": sum(p.stat().st_size for p in (nim / "snapshots").iterdir()),
        "hosts_yaml_bytes": (nim / "inventory" / "hosts.yaml").stat().st_size,
        "changed_hosts_second_release": 0,
    }

    _settle(nim, plain)
    with timed() as nim_first:
        _cli(nim, "commit", "-m", "first release")
    _settle(nim, plain)
    with timed() as git_first:
        _plain_commit(plain, "first release")

    changed = mutate_hosts(nim, spec, CHANGE_EVERY, generation=1)
    with timed() as change_render:
        _cli(nim, "render")
    synced = _sync_changed(nim, plain)
    result.inputs["changed_hosts_second_release"] = changed
    result.inputs["files_changed_second_release"] = synced
    _settle(nim, plain)
    with timed() as nim_change:
        _cli(nim, "commit", "-m", "5% changed")
    _settle(nim, plain)
    with timed() as git_change:
        _plain_commit(plain, "5% changed")

    same_tree = _git(nim, "rev-parse", "HEAD:snapshots") == _git(plain, "rev-parse", "HEAD:snapshots")
    result.inputs["same_git_tree"] = same_tree
    if not same_tree:
        result.notes.append("the two repositories committed different snapshots/ trees")

    result.figure("render before first commit (setup)", first_render.wall, "s", "cold: no cache yet")
    result.figure("netimmutable commit, first release", nim_first.wall, "s", f"cpu {nim_first.cpu:.2f} s")
    result.figure("git add -A && commit, first release", git_first.wall, "s")
    result.figure("render after 5% change (setup)", change_render.wall, "s", "95% of hosts from the cache")
    result.figure("netimmutable commit, 5% changed", nim_change.wall, "s", f"cpu {nim_change.cpu:.2f} s")
    result.figure("git add -A && commit, 5% changed", git_change.wall, "s")
    result.ratio(
        "commit vs git, first release",
        ("netimmutable commit", nim_first.wall),
        ("git add+commit", git_first.wall),
        "<=",
        1.5,
    )
    result.ratio(
        "commit vs git, 5% changed",
        ("netimmutable commit", nim_change.wall),
        ("git add+commit", git_change.wall),
        "<=",
        1.5,
    )
    return result
