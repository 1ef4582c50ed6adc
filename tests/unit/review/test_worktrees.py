"""One lock domain per repository (issue 13 item 6): worktrees share locks and the journal (git's common dir);
locks and journals an older netimmutable left in `.netimmutable/` are still honoured."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from netimmutable.deploy import deploy
from netimmutable.deploy_model import DeployOptions
from netimmutable.errors import LockHeld
from netimmutable.journal import Journal, journal_path, unfinished_runs
from netimmutable.locks import device_lock, legacy_locks_dir, list_locks, locks_dir, remove_lock
from netimmutable.recover import UnfinishedRunError
from netimmutable.repo import NetworkRepo, open_repo
from tests.unit.review.conftest import Net

__all__: list[str] = []

DEAD_PID = 2**30  # above any pid_max: no such process


def _worktree(net: Net, tmp_path: Path) -> NetworkRepo:
    """A second worktree of the network repository on its own branch at main, the lab's connections."""
    other = tmp_path / "worktree-b"
    subprocess.run(
        ["git", "-C", str(net.root), "worktree", "add", "-q", "-b", "b", str(other), "main"], check=True
    )
    (other / ".netimmutable").mkdir()
    conn = net.root / ".netimmutable" / "connections.yaml"
    (other / ".netimmutable" / "connections.yaml").write_text(conn.read_text())
    return open_repo(other)


def test_worktrees_share_one_lock_folder_inside_git(net: Net, tmp_path: Path) -> None:
    other = _worktree(net, tmp_path)
    assert locks_dir(other) == locks_dir(net.repo)
    assert str(locks_dir(net.repo)).startswith(str(net.root / ".git"))


def test_a_device_locked_by_one_worktree_is_not_changed_from_another(net: Net, tmp_path: Path) -> None:
    other = _worktree(net, tmp_path)
    net.announce("r1", "10.255.220.0/24")
    subprocess.run(["git", "-C", str(other.root), "merge", "-q", "--ff-only", "main"], check=True)
    before = net.lab.state("r1").generation

    with device_lock(net.repo, "r1", "run-in-worktree-a"), pytest.raises(LockHeld, match="run-in-worktree-a"):
        deploy(other, DeployOptions(limit=("r1",)))

    assert net.lab.state("r1").generation == before
    assert "10.255.220.0/24" not in net.lab.running("r1")


def test_an_unfinished_run_of_one_worktree_blocks_and_is_recovered_from_another(
    net: Net, tmp_path: Path
) -> None:
    other = _worktree(net, tmp_path)
    journal = Journal.open(net.repo, "run-killed-in-a", release=net.first)
    journal.before("r1", "commit", release=net.first, rollback_release=net.first)
    journal.abandon()
    path = journal_path(net.repo, "run-killed-in-a")
    lines = path.read_text().splitlines()
    head = json.loads(lines[0])
    head["pid"] = DEAD_PID
    path.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")

    assert [r.run_id for r in unfinished_runs(other)] == ["run-killed-in-a"]
    with pytest.raises(UnfinishedRunError, match="run-killed-in-a"):
        deploy(other, DeployOptions(limit=("r2",)))


def test_a_lock_left_in_the_legacy_folder_is_honoured_listed_and_removable(net: Net) -> None:
    legacy = legacy_locks_dir(net.repo)
    assert legacy != locks_dir(net.repo)
    with device_lock(net.repo, "r2", "old-run") as held:
        text = held.path.read_text()
    legacy.mkdir(parents=True, exist_ok=True)
    (legacy / "device-r2.lock").write_text(text)  # as an older netimmutable kept it (process still alive)
    before = net.lab.state("r2").generation
    net.announce("r2", "10.255.221.0/24")

    with pytest.raises(LockHeld, match="old-run"):
        net.deploy(limit=("r2",))
    assert net.lab.state("r2").generation == before
    assert [h.path for h in list_locks(net.repo)] == [legacy / "device-r2.lock"]
    data = json.loads(text)
    data["pid"] = DEAD_PID
    (legacy / "device-r2.lock").write_text(json.dumps(data))
    remove_lock(net.repo, "r2")

    assert net.deploy(limit=("r2",)).exit_code == 0
