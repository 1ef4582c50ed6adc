"""Branch workflows of a team (issue 13): `plan` says when `deploy` would refuse what it plans; a rebased
branch and a merge of two parallel branches deploy (releases by content)."""

from __future__ import annotations

from tests.unit.review.conftest import Net
from tests.unit.review.test_team_releases import _generations, _git, _head

__all__: list[str] = []


def test_plan_warns_when_deploy_would_refuse_an_unapproved_commit(net: Net) -> None:
    _git(net.root, "checkout", "-q", "-b", "feature")
    feature = net.announce("r1", "10.255.230.0/24")

    planned = net.cli("plan", "--limit", "r1")

    assert planned.exit_code == 3, planned.output  # planned all the same: r1 changes
    said = " ".join(planned.output.split())
    assert f"warning: deploy would refuse release {feature[:10]}: release {feature[:10]} is not on" in said
    assert "the approval branch 'main'" in said


def test_plan_warns_when_deploy_would_refuse_a_commit_that_is_not_a_release(net: Net) -> None:
    cfg = net.root / "snapshots" / "r2.cfg"
    cfg.write_text(cfg.read_text() + "ip route 10.66.0.0/16 blackhole\n")
    _git(net.root, "commit", "-q", "-am", "hand edit")

    planned = net.cli("plan", "--limit", "r2")

    said = " ".join(planned.output.split())
    assert f"warning: deploy would refuse release {_head(net)[:10]}: commit" in said
    assert "is not a release" in said and "r2.cfg" in said


def test_plan_of_a_deployable_release_has_no_warning(net: Net) -> None:
    net.announce("r1", "10.255.231.0/24")

    planned = net.cli("plan", "--limit", "r1")

    assert planned.exit_code == 3, planned.output
    assert "deploy would refuse" not in planned.output


def test_a_rebased_branch_deploys(net: Net) -> None:
    """feature (r1) branched before main changed r3; rebased onto main and fast-forwarded: a release."""
    _git(net.root, "checkout", "-q", "-b", "feature")
    net.announce("r1", "10.255.232.0/24")
    _git(net.root, "checkout", "-q", "main")
    net.announce("r3", "10.255.233.0/24")
    _git(net.root, "checkout", "-q", "feature")
    _git(net.root, "rebase", "-q", "main")
    _git(net.root, "checkout", "-q", "main")
    _git(net.root, "merge", "-q", "--ff-only", "feature")

    result = net.cli("deploy", "--yes")

    assert result.exit_code == 0, result.output
    assert "10.255.232.0/24" in net.lab.running("r1") and "10.255.233.0/24" in net.lab.running("r3")
    assert net.records().last_good("r1").release == _head(net)  # type: ignore[union-attr]


def test_a_merge_of_two_parallel_branches_deploys(net: Net) -> None:
    """Two merge requests branched from the same commit (r1 and r4), both merged with merge commits: the
    second merge commit is a release (its snapshots are what its merged inputs render) and deploys both."""
    for branch, host, prefix in (("mr-1", "r1", "10.255.234.0/24"), ("mr-2", "r4", "10.255.235.0/24")):
        _git(net.root, "checkout", "-q", "-b", branch, "main")
        net.announce(host, prefix)
    _git(net.root, "checkout", "-q", "main")
    _git(net.root, "merge", "-q", "--no-ff", "-m", "Merge mr-1", "mr-1")
    _git(net.root, "merge", "-q", "--no-ff", "-m", "Merge mr-2", "mr-2")
    before = _generations(net)

    result = net.cli("deploy", "--yes")

    assert result.exit_code == 0, result.output
    assert "10.255.234.0/24" in net.lab.running("r1") and "10.255.235.0/24" in net.lab.running("r4")
    after = _generations(net)
    assert after["r2"] == before["r2"] and after["r3"] == before["r3"]  # unchanged hosts untouched
    assert net.records().last_good("r4").release == _head(net)  # type: ignore[union-attr]
