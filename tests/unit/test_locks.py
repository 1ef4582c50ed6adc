"""Locks across processes: fail fast naming the holder, stale detection, no silent takeover."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from netimmutable.errors import LockHeld
from netimmutable.locks import (
    device_lock,
    device_locks,
    list_locks,
    locks_dir,
    read_lock,
    remove_lock,
    repo_lock,
)
from netimmutable.repo import NetworkRepo
from netimmutable.settings import Settings
from tests.unit.records_fixtures import start_python


@pytest.fixture
def repo(tmp_path: Path) -> NetworkRepo:
    return NetworkRepo(root=tmp_path, settings=Settings())


_HOLDER = """
import sys, time
from pathlib import Path
from netimmutable.locks import repo_lock
from netimmutable.repo import NetworkRepo
from netimmutable.settings import Settings
repo = NetworkRepo(root=Path(sys.argv[1]), settings=Settings())
with repo_lock(repo, "other-run", "deploy"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
print("released", flush=True)
"""


def _wait_held(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"


def test_second_run_in_another_process_fails_fast_naming_the_holder(repo: NetworkRepo) -> None:
    proc = start_python(_HOLDER, str(repo.root), "2")
    _wait_held(proc)
    start = time.monotonic()
    with pytest.raises(LockHeld) as caught:
        repo_lock(repo, "my-run").acquire()
    assert time.monotonic() - start < 1.0
    text = str(caught.value)
    assert "other-run" in text and f"pid {proc.pid}" in text and "wait for that run" in text
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    with repo_lock(repo, "my-run") as held:  # released by the holder: free again
        assert read_lock(held.path) == held.info
    assert list_locks(repo) == []


def test_lock_of_a_killed_process_is_stale_and_never_taken_silently(repo: NetworkRepo) -> None:
    proc = start_python(_HOLDER, str(repo.root), "60")
    _wait_held(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    with pytest.raises(LockHeld) as caught:
        repo_lock(repo, "my-run").acquire()
    text = str(caught.value)
    assert "stale" in text and "netimmutable recover" in text and "netimmutable unlock" in text
    [held] = list_locks(repo)
    assert held.stale and held.info is not None and held.info.run_id == "other-run"

    # recover of exactly that run may take it over; another run id may not
    with pytest.raises(LockHeld):
        repo_lock(repo, "my-run", takeover={"unrelated-run"}).acquire()
    with repo_lock(repo, "recover-run", "recover", takeover={"other-run"}) as lock:
        assert read_lock(lock.path) == lock.info
    assert list_locks(repo) == []


def test_unlock_removes_stale_refuses_live(repo: NetworkRepo) -> None:
    with repo_lock(repo, "live-run"), pytest.raises(LockHeld, match="running"):
        remove_lock(repo, "repo")
    path = locks_dir(repo) / "device-r1.lock"
    with device_lock(repo, "r1", "dead-run") as lock:
        data = json.loads(path.read_text())
    data["pid"] = 2**22 + 12345  # a pid that does not exist
    path.write_text(json.dumps(data))
    assert lock.path == path
    info = remove_lock(repo, "r1")
    assert info is not None and info.run_id == "dead-run"
    assert not path.exists()


def test_lock_from_another_machine_needs_force(repo: NetworkRepo) -> None:
    path = locks_dir(repo) / "device-r2.lock"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "name": "device-r2",
                "run_id": "far-run",
                "purpose": "deploy",
                "user": "ann",
                "machine": "elsewhere.example",
                "pid": 1,
                "pid_start": "",
                "started_utc": "2024-01-01T00:00:00Z",
            }
        )
    )
    with pytest.raises(LockHeld, match=r"elsewhere\.example") as caught:
        device_lock(repo, "r2", "mine").acquire()
    assert not caught.value.message.startswith("stale")
    with pytest.raises(LockHeld, match="another machine"):
        remove_lock(repo, "r2")
    assert remove_lock(repo, "r2", force=True) is not None


def test_device_locks_all_or_none_and_kept_lock(repo: NetworkRepo) -> None:
    with device_lock(repo, "r3", "other"):
        with pytest.raises(LockHeld, match="r3"), device_locks(repo, ["r1", "r2", "r3", "r4"], "mine"):
            pass
        assert [h.path.name for h in list_locks(repo)] == ["device-r3.lock"]
    with device_locks(repo, ["r2", "r1"], "mine") as locks:
        assert sorted(locks) == ["r1", "r2"]
        locks["r2"].keep("r2 left UNKNOWN")
    [kept] = list_locks(repo)
    assert kept.info is not None and kept.info.kept == "r2 left UNKNOWN"
    with pytest.raises(LockHeld, match="UNKNOWN"):
        device_lock(repo, "r2", "next").acquire()


def test_device_locks_of_a_large_fleet_are_all_or_none_too(repo: NetworkRepo) -> None:
    hosts = [f"leaf{i:02d}" for i in range(40)]  # above the size taken by several threads at once
    with device_lock(repo, "leaf17", "other"), device_lock(repo, "leaf31", "third"):
        with pytest.raises(LockHeld, match="leaf17") as held, device_locks(repo, hosts, "mine"):
            pass
        assert "other" in str(held.value)  # the first held host in name order, with its holder
        assert [h.path.name for h in list_locks(repo)] == ["device-leaf17.lock", "device-leaf31.lock"]
    with device_locks(repo, reversed(hosts), "mine") as locks:
        assert list(locks) == hosts
        assert all(lock.info.run_id == "mine" for lock in locks.values())
        assert [h.path.name for h in list_locks(repo)] == [f"device-{h}.lock" for h in hosts]
    assert list_locks(repo) == []


def test_exactly_one_of_many_threads_wins(repo: NetworkRepo) -> None:
    import threading

    wins: list[str] = []
    barrier = threading.Barrier(8)

    def contend(i: int) -> None:
        barrier.wait()
        try:
            repo_lock(repo, f"run-{i}").acquire()
            wins.append(f"run-{i}")
        except LockHeld:
            pass

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    info = read_lock(locks_dir(repo) / "repo.lock")
    assert info is not None and info.run_id == wins[0]
