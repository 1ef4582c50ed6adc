"""Safety settings come from outside the release (issue 13): a release cannot turn its own leases off or
shorten them, and the approval remote is configurable (local, untracked), like the approval branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from netimmutable.deploy_model import ProgressEvent
from netimmutable.errors import ApprovalError
from netimmutable.leases import parse_utc
from tests.unit.review.conftest import Net
from tests.unit.review.test_leases_clones import _git, _lease, _leases, _shared

__all__: list[str] = []


def test_a_release_cannot_turn_its_own_leases_off(net: Net, tmp_path: Path) -> None:
    """Release R says `records_remote: none` and `lease_seconds: 2`; main's tip (reviewed after it) does
    not. Deploying R from a checkout of R still leases r1 on origin, for the tip's lease length."""
    remote = _shared(net, tmp_path)
    settings = net.root / "netimmutable.yaml"
    approved = settings.read_text()
    own = "records_remote: none\ndeploy:\n  lease_seconds: 2\n"
    settings.write_text(approved.replace("deploy:\n", own, 1))
    release = net.announce("r1", "10.255.220.0/24")  # the settings change is committed with the release
    settings.write_text(approved)
    _git(net.root, "commit", "-q", "-am", "leases back on")
    _git(net.root, "push", "-q", "origin", "main")
    _git(net.root, "checkout", "-q", "--detach", release)  # its own netimmutable.yaml is checked out
    assert "records_remote: none" in settings.read_text()
    seen: list[dict[str, str]] = []

    def progress(event: ProgressEvent) -> None:
        if event.host == "r1" and not seen:
            seen.append(_lease(remote, "r1"))

    report = net.deploy(rev=release, limit=("r1",), progress=progress)

    assert report.exit_code == 0, report
    assert seen and seen[0]["run_id"] == report.run_id  # leased on origin all the same
    assert parse_utc(seen[0]["expires_utc"]) - parse_utc(seen[0]["acquired_utc"]) == 120  # the tip's length
    assert _leases(remote) == []


def test_the_approval_remote_is_configurable(net: Net, tmp_path: Path) -> None:
    """The network's remote is called `upstream`: without configuration the local main approves; with
    `git config netimmutable.approvalRemote upstream` an unpushed local commit is not approved."""
    remote = tmp_path / "upstream.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    _git(net.root, "remote", "add", "upstream", str(remote))
    _git(net.root, "push", "-q", "upstream", "main")
    _git(net.root, "config", "netimmutable.approvalRemote", "upstream")
    _git(net.root, "config", "netimmutable.recordsRemote", "none")  # this test is about approval only
    local = net.announce("r1", "10.255.221.0/24")  # on local main, never pushed (never reviewed)
    before = net.lab.state("r1").generation

    with pytest.raises(ApprovalError, match="upstream/main"):
        net.deploy(limit=("r1",))
    assert net.lab.state("r1").generation == before
    _git(net.root, "push", "-q", "upstream", "main")

    assert net.deploy(limit=("r1",)).exit_code == 0
    assert net.records().last_good("r1").release == local  # type: ignore[union-attr]
    _git(net.root, "config", "netimmutable.approvalRemote", "elsewhere")
    with pytest.raises(ApprovalError, match="approval remote 'elsewhere'"):
        net.deploy(limit=("r1",))
