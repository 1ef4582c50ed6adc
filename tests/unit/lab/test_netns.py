"""The lab's process handling without root: pid files written late, and teardown that waits for reaping."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from netimmutable.errors import LabError
from netimmutable.lab.netns import Tracked, stop_tracked, wait_pid_file


def _own_netns_inode() -> int:
    return Path("/proc/self/ns/net").stat().st_ino


def _later(seconds: float, action: object) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        action()  # type: ignore[operator]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_an_empty_pid_file_is_waited_for_until_the_daemon_writes_it(tmp_path: Path) -> None:
    # sshd creates its pid file and writes the number a moment later: reading it at once gave
    # "ValueError: invalid literal for int() with base 10: ''" under load (issue 11)
    pid_file = tmp_path / "sshd.pid"
    pid_file.write_text("")
    writer = _later(0.3, lambda: pid_file.write_text(f"{os.getpid()}\n"))
    assert wait_pid_file(pid_file, what="sshd on r1", timeout=10) == os.getpid()
    writer.join()


def test_a_pid_file_that_never_completes_is_a_located_lab_error(tmp_path: Path) -> None:
    pid_file = tmp_path / "bgpd.pid"
    pid_file.write_text("")
    log = tmp_path / "frrinit.log"
    with pytest.raises(LabError) as info:
        wait_pid_file(pid_file, what="FRR's bgpd on r2", timeout=0.3, log=log, host="r2")
    err = info.value
    assert err.host == "r2"
    assert "bgpd on r2" in err.message and str(pid_file) in err.message and str(log) in err.message


def test_a_pid_of_a_process_that_is_gone_is_not_accepted(tmp_path: Path) -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    pid_file = tmp_path / "zebra.pid"
    pid_file.write_text(f"{child.pid}\n")  # a stale file from a daemon that died
    with pytest.raises(LabError, match="zebra"):
        wait_pid_file(pid_file, what="FRR's zebra on r1", timeout=0.3)


def test_teardown_returns_only_once_every_process_is_reaped() -> None:
    # a stopped daemon stays a zombie until its parent collects it; `lab down` used to return meanwhile
    child = subprocess.Popen(["sleep", "60"])
    tracked = Tracked(child.pid, _own_netns_inode(), "r1 bgpd")
    reaper = _later(0.5, child.wait)  # the parent collects it a moment after it exited
    stop_tracked([tracked], grace=3.0, reap_timeout=20.0)
    assert not Path(f"/proc/{child.pid}").exists(), "returned while the stopped process was still a zombie"
    reaper.join()
    assert child.returncode is not None


def test_teardown_names_the_processes_nobody_reaps() -> None:
    child = subprocess.Popen(["sleep", "60"])
    tracked = Tracked(child.pid, _own_netns_inode(), "r3 zebra")
    try:
        with pytest.raises(LabError) as info:
            stop_tracked([tracked], grace=3.0, reap_timeout=0.3)
        assert "r3 zebra" in info.value.message and str(child.pid) in info.value.message
        assert "not reaped" in info.value.message
    finally:
        child.wait()
