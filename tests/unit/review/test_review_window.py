"""Review findings on the change window: inject the fault, check device, records, exit code, message."""

from __future__ import annotations

import json
import subprocess

import pytest

from netimmutable.artifacts import open_git
from netimmutable.deploy_model import Phase, ProgressEvent
from netimmutable.errors import ApprovalError
from netimmutable.inventory import load_inventory
from netimmutable.journal import Journal, journal_path, unfinished_runs
from netimmutable.locks import list_locks
from netimmutable.outcomes import HostOutcome
from netimmutable.recover import UnfinishedRunError, recover
from tests.unit.review.conftest import Net

DEAD_PID = 2**30  # above any pid_max: no such process


def _locks(net: Net) -> dict[str, str]:
    return {h.path.name: (h.info.kept if h.info else "?") for h in list_locks(net.repo)}


# --------------------------------------------------------------------------- a failed rollback
def test_failed_rollback_keeps_the_device_lock_and_leaves_the_host_to_recover(net: Net) -> None:
    """ROLLBACK_FAILED is not a verified state: like UNKNOWN, the lock is kept and the journal keeps the
    host in flight, so `recover` (not a person's memory) settles it."""
    bad = net.wrong_remote_as("r2")
    net.lab.set_knobs("r2", fail_step="rollback", fail_message="r2: rollback refused by the device")

    report = net.deploy(limit=("r2",))

    r2 = report.host("r2")
    assert r2 is not None and r2.outcome is HostOutcome.ROLLBACK_FAILED, r2
    assert "rollback failed" in r2.message and "rollback refused by the device" in r2.message
    assert report.exit_code == 5
    assert net.records().last_good("r2").release == net.first != bad  # type: ignore[union-attr]
    locks = _locks(net)
    assert list(locks) == ["device-r2.lock"], locks  # the repo lock is released, the device's kept
    assert "recover" in locks["device-r2.lock"]
    [run] = unfinished_runs(net.repo)
    assert run.run_id == report.run_id and [h.host for h in run.hosts] == ["r2"]

    # the device stops refusing: recover settles the host, verified, and releases everything
    net.lab.clear_knobs("r2")
    repo = net.repo
    recovered = recover(repo, open_git(repo), load_inventory(repo))
    [host] = recovered.hosts
    assert host.outcome is HostOutcome.ROLLED_BACK, host
    assert net.lab.running("r2") == net.artifact(net.first, "r2")
    net.no_pending()
    assert _locks(net) == {} and unfinished_runs(net.repo) == []
    assert net.records().last_good("r2").release == net.first  # type: ignore[union-attr]


def test_unknown_host_is_recoverable_in_the_same_process(net: Net) -> None:
    """A host left UNKNOWN is handed to `recover` at once (journal closed with the host unresolved), not
    only once the deploying process has exited."""
    net.wrong_remote_as("r2")
    # the commit lands, then the device is gone for good: the rollback cannot reach it
    net.lab.set_knobs("r2", drop_after_commit=True)

    def progress(event: ProgressEvent) -> None:
        if event.host == "r2" and event.phase is Phase.ROLLBACK:
            net.lab.set_knobs("r2", unreachable=True)

    report = net.deploy(limit=("r2",), progress=progress)

    r2 = report.host("r2")
    assert r2 is not None and r2.outcome is HostOutcome.UNKNOWN, r2
    assert report.exit_code == 5
    assert "device-r2.lock" in _locks(net)
    with pytest.raises(UnfinishedRunError):
        net.deploy(limit=("r1",))  # the next run refuses until r2 is recovered

    net.lab.clear_knobs("r2")
    repo = net.repo
    recovered = recover(repo, open_git(repo), load_inventory(repo))
    [host] = recovered.hosts
    assert host.outcome is HostOutcome.ROLLED_BACK, host
    assert net.lab.running("r2") == net.artifact(net.first, "r2")
    net.no_pending()
    assert _locks(net) == {} and unfinished_runs(net.repo) == []


# --------------------------------------------------------------------------- unfinished runs
def _dead_run(net: Net, host: str) -> str:
    """The journal of a run killed right after committing on ``host`` (its process is gone)."""
    journal = Journal.open(net.repo, "run-killed", release=net.first)
    journal.before(host, "commit", release=net.first, rollback_release=net.first)
    journal.abandon()
    path = journal_path(net.repo, "run-killed")
    lines = path.read_text().splitlines()
    head = json.loads(lines[0])
    head["pid"] = DEAD_PID
    path.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")
    return "run-killed"


def test_deploy_refuses_to_start_while_a_killed_run_is_unrecovered(net: Net) -> None:
    """`recover --help`: "Every deploy checks for unfinished runs first and refuses to start"."""
    _dead_run(net, "r1")
    net.announce("r1", "10.255.111.0/24")
    before = {h: net.lab.state(h).generation for h in net.lab.hosts()}

    with pytest.raises(UnfinishedRunError, match="run-killed"):
        net.deploy(limit=("r1",))
    with pytest.raises(UnfinishedRunError, match="run-killed"):
        net.rollback(["r1"], to_rev=net.first)
    result = net.cli("deploy", "--limit", "r1", "--yes")
    assert result.exit_code == 1 and "run-killed" in result.output and "recover" in result.output

    assert {h: net.lab.state(h).generation for h in net.lab.hosts()} == before
    assert _locks(net) == {}


# --------------------------------------------------------------------------- rollback --to
def test_rollback_to_a_hand_edited_release_is_refused(net: Net) -> None:
    """`rollback --to` pushes only releases (snapshots are what the commit's own inputs render), like a
    deploy: a config edited by hand on the approval branch is never pushed."""
    cfg = net.root / "snapshots" / "r1.cfg"
    cfg.write_text(cfg.read_text() + "ip route 10.66.0.0/16 blackhole\n")
    subprocess.run(["git", "-C", str(net.root), "commit", "-qam", "hand edit"], check=True)
    hand = open_git(net.repo).head.commit.hexsha
    before = net.lab.state("r1").generation

    with pytest.raises(ApprovalError, match=r"r1\.cfg"):
        net.rollback(["r1"], to_rev=hand)

    assert net.lab.state("r1").generation == before
    assert "10.66.0.0" not in net.lab.running("r1")
    assert net.records().last_good("r1").release == net.first  # type: ignore[union-attr]
    assert _locks(net) == {}
