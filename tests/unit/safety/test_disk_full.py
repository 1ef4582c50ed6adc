"""A full disk (issue 14, item 10). Under the journal: the entry written before a step cannot be made
durable, so the step is not taken; the run ends with a clear message, no traceback, the device untouched,
and the journal still readable (no half-written entry left in the middle of it). Under `netimmutable
commit` (and a failing commit signature): no snapshot half-updated, nothing committed, the index as it
was. Under the records: a clear error at once, no record ref moved."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gitdb import LooseObjectDB

from netimmutable import journal as journal_module
from netimmutable.artifacts import open_git
from netimmutable.errors import RepoError
from netimmutable.journal import unfinished_runs
from netimmutable.locks import list_locks
from netimmutable.records import HostOutcome, HostRecord, Records, RunRecord, utc_now
from tests.unit.deploy.conftest import Net, _build
from tests.unit.netrepo_helpers import git, head, make_netrepo, run_cli, snapshot_files

DEPLOYED = HostOutcome.DEPLOYED


def _full_disk_at(monkeypatch: pytest.MonkeyPatch, marker: bytes, partial: bool) -> None:
    real = os.write

    def write(fd: int, data: Any) -> int:
        if marker in bytes(data):
            if partial:  # the file system took part of the entry, then ran out of space
                real(fd, bytes(data)[:20])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(journal_module.os, "write", write)


@pytest.mark.parametrize("partial", [False, True], ids=["nothing-written", "half-an-entry"])
def test_disk_full_before_the_load_leaves_the_device_untouched_and_exits_1(
    net: Net, monkeypatch: pytest.MonkeyPatch, partial: bool
) -> None:
    net.announce("r1", "10.99.0.0/24")
    before = net.lab.running("r1")
    _full_disk_at(monkeypatch, b'"before"', partial)
    result = net.cli("deploy", "--yes", "--limit", "r1")
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert "journal could not be written" in result.output and "Traceback" not in result.output
    assert net.lab.running("r1") == before and not net.lab.has_pending("r1")
    assert unfinished_runs(net.repo) == [] and list_locks(net.repo) == []  # readable, nothing in flight


def test_disk_full_when_the_journal_is_created_is_a_clear_error(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    net.announce("r1", "10.99.0.0/24")
    before = net.lab.running("r1")
    _full_disk_at(monkeypatch, b'"open"', partial=False)
    result = net.cli("deploy", "--yes", "--limit", "r1")
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert "journal could not be written" in result.output and "Traceback" not in result.output
    assert net.lab.running("r1") == before
    assert unfinished_runs(net.repo) == [] and list_locks(net.repo) == []


# ------------------------------------------------------------------ `netimmutable commit` and record writes
class SmallDisk:
    """A 4 MiB tmpfs under the test's folder (root only), to fill and free: git and netimmutable meet a
    real ENOSPC, from whichever write comes first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def fill(self) -> None:
        with self.filler.open("ab") as handle:
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _index(root: Path) -> bytes:
    return (root / ".git" / "index").read_bytes()


def _staged(root: Path) -> str:
    return git(root, "diff", "--cached", "--name-only")


def _temporary_files(root: Path) -> list[str]:
    return [p.name for p in (root / "snapshots").iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_during_commit_changes_no_snapshot_and_leaves_the_index_as_it_was(
    small_disk: SmallDisk,
) -> None:
    repo = make_netrepo(small_disk.root / "net")
    root = repo.root
    assert run_cli(["commit", "-m", "first", "--repo", str(root)]).exit_code == 0
    hosts = root / "inventory" / "hosts.yaml"
    hosts.write_text(
        hosts.read_text().replace("10.1.0.1/32", "10.1.0.9/32").replace("10.1.0.2/", "10.1.0.8/")
    )
    head_before, snapshots, index = head(root), snapshot_files(root), _index(root)

    small_disk.fill()  # before the snapshots are written: none of them is (a1 and b2 both change)
    result = run_cli(["commit", "-m", "second", "--repo", str(root)])
    assert result.exit_code == 1, result.output
    assert "snapshots/" in result.stderr and "nothing in snapshots/ was changed" in result.stderr
    assert snapshot_files(root) == snapshots and _temporary_files(root) == []
    assert head(root) == head_before and _index(root) == index

    small_disk.free()
    assert run_cli(["render", "--repo", str(root)]).exit_code == 0  # snapshots written; nothing staged
    index = _index(root)
    small_disk.fill()  # now git cannot write the release's objects
    result = run_cli(["commit", "-m", "second", "--repo", str(root)])
    assert result.exit_code == 1, result.output
    assert "nothing was committed and the index is as it was" in result.stderr
    assert head(root) == head_before and _staged(root) == "" and _index(root) == index

    small_disk.free()
    assert run_cli(["commit", "-m", "second", "--repo", str(root)]).exit_code == 0
    assert head(root) != head_before and _staged(root) == ""


def test_a_failing_commit_signature_leaves_nothing_staged(tmp_path: Path) -> None:
    """Issue 14: `commit.gpgsign` with a signing program that fails left the release's files staged."""
    repo = make_netrepo(tmp_path / "net")
    root = repo.root
    assert run_cli(["commit", "-m", "first", "--repo", str(root)]).exit_code == 0
    hosts = root / "inventory" / "hosts.yaml"
    hosts.write_text(hosts.read_text().replace("10.1.0.1/32", "10.1.0.9/32"))
    git(root, "config", "commit.gpgsign", "true")
    git(root, "config", "gpg.program", str(tmp_path / "no-such-gpg"))
    head_before, index = head(root), _index(root)
    result = run_cli(["commit", "-m", "signed", "--repo", str(root)])
    assert result.exit_code == 1, result.output
    assert "git commit failed" in result.stderr and "nothing was committed" in result.stderr
    assert head(root) == head_before and _staged(root) == "" and _index(root) == index
    git(root, "config", "commit.gpgsign", "false")
    assert run_cli(["commit", "-m", "unsigned", "--repo", str(root)]).exit_code == 0


def test_records_on_a_full_disk_fail_at_once_and_move_no_ref(small_disk: SmallDisk) -> None:
    repo = make_netrepo(small_disk.root / "net")
    assert run_cli(["commit", "-m", "first", "--repo", str(repo.root)]).exit_code == 0
    release = head(repo.root)
    records = Records(repo, open_git(repo))
    run = RunRecord("run-1", "deploy", release, utc_now(), utc_now(), "me", (HostRecord("a1", DEPLOYED),))
    small_disk.fill()
    for write in (lambda: records.mark_good("a1", release, "run-1"), lambda: records.write_run(run, {})):
        started = time.monotonic()
        with pytest.raises(RepoError) as info:
            write()
        assert time.monotonic() - started < 2
        assert (
            "records not written" in info.value.message
            and "every record ref is as it was" in info.value.message
        )
    assert git(repo.root, "for-each-ref", "refs/netimmutable") == ""
    small_disk.free()
    records.mark_good("a1", release, "run-1")
    assert records.last_good("a1") is not None


def test_a_ref_git_cannot_update_fails_in_a_second_not_after_50_tries(tmp_path: Path) -> None:
    """A failure that is no race (here: the ref's lock file cannot be created) is not retried 50 times
    ("other writers kept moving it", 13 s): it is reported with git's reason, nothing moved."""
    repo = make_netrepo(tmp_path / "net")
    release = head(repo.root)
    lock = repo.root / ".git" / "refs" / "netimmutable" / "good" / "a1.lock"
    lock.mkdir(parents=True)  # git cannot create the lock file
    started = time.monotonic()
    with pytest.raises(RepoError) as info:
        Records(repo, open_git(repo)).mark_good("a1", release, "run-1")
    assert time.monotonic() - started < 3
    assert "refs/netimmutable/good/a1" in info.value.message and "other writers" not in info.value.message
    assert git(repo.root, "for-each-ref", "refs/netimmutable") == ""


def test_a_run_record_that_cannot_be_written_is_reported_not_a_traceback(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    net.announce("r1", "10.99.0.0/24")
    runs = git(net.root, "rev-parse", "refs/netimmutable/runs")

    def full(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(LooseObjectDB, "store", full)  # every record object the run writes
    result = net.cli("deploy", "--yes", "--limit", "r1")
    monkeypatch.undo()
    assert result.exit_code == 1, result.output
    assert "records not written" in result.output
    assert git(net.root, "rev-parse", "refs/netimmutable/runs") == runs
    assert list_locks(net.repo) == [] and not net.lab.has_pending("r1")


# ------------------------------------------------------------------ deploy and rollback on a full disk
def _lock_folder_files(net: Net) -> list[str]:
    folder = net.root / ".git" / "netimmutable" / "locks"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize(
    "args",
    [("deploy", "--yes"), ("deploy", "--yes", "--allow-dirty"), ("rollback", "r1", "--yes")],
    ids=["deploy", "deploy-allow-dirty", "rollback"],
)
def test_deploy_and_rollback_on_a_full_disk_end_with_a_clear_error_and_leave_nothing(
    small_disk: SmallDisk, args: tuple[str, ...]
) -> None:
    """Issue 14: `deploy` on a full disk printed git's `index.lock` failure as a traceback (from the dirty
    check); `deploy --allow-dirty` and `rollback` an OSError from the repo lock's temporary file, and left
    that empty `.repo.lock.<pid>.<id>.tmp` behind each time."""
    builder = _build(small_disk.root, baseline=True)
    net = next(builder)
    try:
        net.announce("r1", "10.99.0.0/24")
        running = {host: net.lab.running(host) for host in net.lab.hosts()}
        locks_before = _lock_folder_files(net)
        small_disk.fill()
        result = net.cli(*args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "Errno" not in result.output
        assert "disk full" in result.output or "no space" in result.output.lower(), result.output
        assert _lock_folder_files(net) == locks_before and list_locks(net.repo) == []
        assert {host: net.lab.running(host) for host in net.lab.hosts()} == running
        net.no_pending()
        small_disk.free()
    finally:
        builder.close()


def test_a_git_status_that_fails_in_the_dirty_check_is_a_located_error(net: Net) -> None:
    """The dirty check's `git status` failing (here: an index git cannot read) is a RepoError naming the
    repository, not a GitCommandError traceback; nothing is locked or pushed."""
    release = net.announce("r1", "10.99.0.0/24")
    running = net.lab.running("r1")
    (net.root / ".git" / "index").write_bytes(b"DIRC not an index")
    result = net.cli("deploy", release, "--yes", "--limit", "r1")
    assert result.exit_code == 1, result.output
    assert "git status failed" in result.output and str(net.root) in result.output
    assert "Traceback" not in result.output
    assert net.lab.running("r1") == running and list_locks(net.repo) == []
