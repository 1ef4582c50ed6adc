"""What `recover` needs survives `git gc --prune=now`: the config captured before a first deployment."""

from __future__ import annotations

import signal
import subprocess

from tests.cli_process import read_until, spawn_cli

from .conftest import Net


def test_first_deployment_killed_after_commit_recovers_after_gc(fresh_net: Net) -> None:
    net = fresh_net
    # never deployed, and configured by hand (so its config is no blob of any commit): the captured config is
    # the only way back
    net.lab.edit("r2", add=["ip route 10.8.0.0/24 blackhole"])
    before = net.lab.running("r2")
    net.wrong_remote_as("r2")
    # a settle time longer than the test needs: it is killed while the post-checks wait
    proc = spawn_cli("deploy", "--yes", "--repo", str(net.root), "--limit", "r2", "--settle-timeout", "30")
    read_until(proc, "r2: post-check")  # committed (journaled): the bad release is on the device
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert "remote-as 65009" in net.lab.running("r2")
    kept = _captured_refs(net)
    assert len(kept) == 1 and kept[0].startswith("refs/netimmutable/captured/r2/"), kept

    gc = subprocess.run(
        ["git", "-C", str(net.root), "gc", "--prune=now", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert gc.returncode == 0, gc.stderr

    result = net.cli("recover")

    assert result.exit_code == 4, result.output  # rolled back to what it ran before, and verified
    assert "rolled-back" in result.output
    assert net.lab.running("r2") == before
    net.no_pending()


def test_a_completed_first_deployment_leaves_no_capture_ref(fresh_net: Net) -> None:
    fresh_net.announce("r1", "10.255.111.0/24")
    report = fresh_net.deploy(limit=("r1",))
    assert report.exit_code == 0, report
    assert fresh_net.records().captured_config("r1") is not None  # the run record holds the capture
    assert _captured_refs(fresh_net) == []


def _captured_refs(net: Net) -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(net.root), "for-each-ref", "--format=%(refname)", "refs/netimmutable/captured/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()
