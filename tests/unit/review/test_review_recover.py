"""Review findings on `netimmutable recover`: it verifies exactly as a deploy does."""

from __future__ import annotations

import subprocess
from pathlib import Path

from netimmutable.artifacts import open_git
from netimmutable.errors import ConfigRejected
from netimmutable.inventory import load_inventory
from netimmutable.journal import unfinished
from netimmutable.locks import list_locks
from netimmutable.outcomes import HostOutcome
from netimmutable.records import Records
from netimmutable.recover import VerifyResult, recover
from tests.unit.records_fixtures import GOOD_CHANGE, dead_run_journal, make_net, release
from tests.unit.test_recover import _crash


def test_recover_fails_a_release_whose_configured_expectations_file_is_missing(tmp_path: Path) -> None:
    """templates/frr/expect.j2 configures expectations for r1; a release without r1.expect.yaml must fail
    its post-checks in recover as it does in a deploy, never be confirmed and recorded good."""
    net = make_net(tmp_path)
    assert (net.root / "templates" / "frr" / "expect.j2").is_file()
    good_config = net.lab.running("r1")
    release(net.root, "r1 description", GOOD_CHANGE)
    subprocess.run(["git", "-C", str(net.root), "rm", "-q", "snapshots/r1.expect.yaml"], check=True)
    subprocess.run(["git", "-C", str(net.root), "commit", "-qm", "drop r1 expectations"], check=True)
    new = open_git(net.repo).head.commit.hexsha
    _crash(net, new, "after-commit")

    report = recover(net.repo, open_git(net.repo), load_inventory(net.repo))

    [host] = report.hosts
    assert host.outcome is HostOutcome.ROLLED_BACK, host
    assert "expectations are configured for this host" in host.message
    assert net.lab.running("r1") == good_config and not net.lab.has_pending("r1")
    good = Records(net.repo, open_git(net.repo)).last_good("r1")
    assert good is not None and good.release == net.first != new
    assert int(report.exit_code) == 4
    assert unfinished(net.repo) == [] and list_locks(net.repo) == []


class _RefusingDevice:
    """Runs neither release; a load leaves a (partial) candidate and is then refused."""

    name = "r1"
    platform = "frr"

    def __init__(self) -> None:
        self.running = "hostname r1\nip route 10.77.0.0/16 blackhole\n"
        self.candidate: str | None = None
        self.calls: list[str] = []

    def running_config(self) -> str:
        return self.running

    def has_pending_commit(self) -> bool:
        return False

    def confirm(self) -> None:
        self.calls.append("confirm")

    def rollback_driver(self) -> None:
        self.calls.append("rollback")

    def load_replace(self, config: str) -> None:
        self.calls.append("load")
        self.candidate = config
        raise ConfigRejected("load_replace_candidate: device refused: % line 7: invalid input", host="r1")

    def discard(self) -> None:
        self.calls.append("discard")
        self.candidate = None

    def commit(self, message: str, revert_in: int | None) -> None:
        self.calls.append("commit")

    def close(self) -> None:
        self.calls.append("close")


def test_recover_rollback_refused_at_load_leaves_no_candidate(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    Records(net.repo, open_git(net.repo)).mark_good("r1", net.first, "run-before")
    dead_run_journal(net.repo, "run-dead", new, "r1", rollback_release=net.first)
    device = _RefusingDevice()

    report = recover(
        net.repo,
        open_git(net.repo),
        load_inventory(net.repo),
        verifier=lambda _request: VerifyResult(True),
        open_device=lambda _host: device,
    )

    [host] = report.hosts
    assert host.outcome is HostOutcome.ROLLBACK_FAILED and "invalid input" in host.message, host
    assert report.exit_code == 5
    assert device.candidate is None, device.calls  # discarded, not left open on the device
    assert device.calls[-2:] == ["discard", "close"]
    [lock] = list_locks(net.repo)
    assert lock.info is not None and "rollback-failed after recovery" in lock.info.kept
    assert [f.host for f in unfinished(net.repo)] == ["r1"]
