"""The plan saved in a merge-request pipeline deploys from the merge or squash commit (issue 13, CI recipe):
``deploy --plan`` accepts a plan made on another commit whose artifacts are the same, says which commit it
was made on, and refuses one whose artifacts differ, naming the hosts. Two clones of a bare remote: the
merge-request runner plans the branch; the maintainer merges; the deploy runs with the runner's plan."""

from __future__ import annotations

from pathlib import Path

from tests.unit.review.conftest import Net
from tests.unit.review.test_leases_clones import _cli, _clone, _git, _shared

__all__: list[str] = []


def _merge_request(net: Net, tmp_path: Path, prefix: str) -> tuple[str, Path]:
    """Branch ``feature`` (r1 announces ``prefix``) pushed; the merge-request runner's clone plans it.
    Returns the branch's commit and the plan file."""
    remote = _shared(net, tmp_path)
    _git(net.root, "checkout", "-q", "-b", "feature")
    feature = net.announce("r1", prefix)
    _git(net.root, "push", "-q", "origin", "feature")
    _git(net.root, "checkout", "-q", "main")
    runner = _clone(net, remote, tmp_path, "mr-runner")
    _git(runner, "checkout", "-q", "--detach", "origin/feature")
    plan = tmp_path / "mr-plan.json"
    planned = _cli(runner, "plan", "--save", str(plan))
    assert planned.exit_code == 3, planned.output  # r1 changes
    return feature, plan


def test_the_merge_requests_plan_deploys_from_the_merge_commit(net: Net, tmp_path: Path) -> None:
    feature, plan = _merge_request(net, tmp_path, "10.255.210.0/24")
    _git(net.root, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature")
    _git(net.root, "push", "-q", "origin", "main")
    merge = _git(net.root, "rev-parse", "HEAD")
    assert merge != feature

    deployed = _cli(net.root, "deploy", "--yes", "--plan", str(plan))

    assert deployed.exit_code == 0, deployed.output
    said = " ".join(deployed.output.split())
    made = f"the plan was made on commit {feature[:10]}, with the same snapshots as release {merge[:10]}"
    assert made in said
    assert "10.255.210.0/24" in net.lab.running("r1")
    assert net.records().last_good("r1").release == merge  # type: ignore[union-attr]


def test_the_merge_requests_plan_deploys_from_a_squash_commit(net: Net, tmp_path: Path) -> None:
    feature, plan = _merge_request(net, tmp_path, "10.255.211.0/24")
    _git(net.root, "merge", "-q", "--squash", "feature")
    _git(net.root, "commit", "-q", "-m", "feature (squashed)")
    _git(net.root, "push", "-q", "origin", "main")
    squash = _git(net.root, "rev-parse", "HEAD")

    deployed = _cli(net.root, "deploy", "--yes", "--plan", str(plan))

    assert deployed.exit_code == 0, deployed.output
    assert f"the plan was made on commit {feature[:10]}" in " ".join(deployed.output.split())
    assert net.records().last_good("r1").release == squash  # type: ignore[union-attr]


def test_a_plan_whose_artifacts_differ_from_the_merge_is_refused_naming_the_hosts(
    net: Net, tmp_path: Path
) -> None:
    """main changed r2 while the merge request was open: the merge commit's r2 is not what was planned."""
    feature, plan = _merge_request(net, tmp_path, "10.255.212.0/24")
    net.announce("r2", "10.255.213.0/24")  # a parallel change on main
    _git(net.root, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature")
    _git(net.root, "push", "-q", "origin", "main")
    before = {h: net.lab.state(h).generation for h in net.lab.hosts()}

    refused = _cli(net.root, "deploy", "--yes", "--plan", str(plan))

    assert refused.exit_code == 1, refused.output
    said = " ".join(refused.output.split())
    assert f"the plan was made on commit {feature[:10]}" in said
    assert "differ" in said and "for: r2" in said
    assert {h: net.lab.state(h).generation for h in net.lab.hosts()} == before
    limited = _cli(net.root, "deploy", "--yes", "--plan", str(plan), "--limit", "r1")  # r1 is as planned
    assert limited.exit_code == 0, limited.output
