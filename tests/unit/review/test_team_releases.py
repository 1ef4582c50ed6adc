"""Teams (issue 13): releases by content (merge commits, squashes, reverts, cherry-picks), approval from
outside the release, one default revision for plan and deploy, detached-HEAD clones of a remote."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from netimmutable.cli import main
from netimmutable.errors import ApprovalError
from tests.unit.review.conftest import Net

__all__: list[str] = []


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _head(net: Net) -> str:
    return _git(net.root, "rev-parse", "HEAD")


def _feature(net: Net, branch: str = "feature", prefix: str = "10.255.201.0/24") -> str:
    """A reviewed change on ``branch`` (a `netimmutable commit`), then back on main; returns its sha."""
    _git(net.root, "checkout", "-q", "-b", branch)
    sha = net.announce("r1", prefix)
    _git(net.root, "checkout", "-q", "main")
    return sha


def _generations(net: Net) -> dict[str, int]:
    return {h: net.lab.state(h).generation for h in net.lab.hosts()}


# --------------------------------------------------------------------------- item 1: merges, squashes
def test_a_merge_commit_of_a_reviewed_branch_deploys(net: Net) -> None:
    _feature(net)
    _git(net.root, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature")
    merge = _head(net)

    result = net.cli("deploy", "--limit", "r1", "--yes")

    assert result.exit_code == 0, result.output
    assert "10.255.201.0/24" in net.lab.running("r1")
    assert net.records().last_good("r1").release == merge  # type: ignore[union-attr]


def test_a_squash_merge_deploys(net: Net) -> None:
    _feature(net)
    _git(net.root, "merge", "-q", "--squash", "feature")
    _git(net.root, "commit", "-q", "-m", "feature (squashed)")
    squash = _head(net)

    report = net.deploy(limit=("r1",))

    assert report.exit_code == 0, report
    assert "10.255.201.0/24" in net.lab.running("r1")
    assert net.records().last_good("r1").release == squash  # type: ignore[union-attr]


def test_a_cherry_pick_deploys(net: Net) -> None:
    sha = _feature(net)
    _git(net.root, "cherry-pick", sha)

    report = net.deploy(limit=("r1",))

    assert report.exit_code == 0, report
    assert "10.255.201.0/24" in net.lab.running("r1")


# --------------------------------------------------------------------------- item 2: git revert
def test_git_revert_of_a_bad_release_deploys_and_plan_agrees(net: Net) -> None:
    bad = net.announce("r1", "10.255.202.0/24")
    assert net.deploy(limit=("r1",)).exit_code == 0
    assert "10.255.202.0/24" in net.lab.running("r1")
    _git(net.root, "revert", "--no-edit", bad)

    planned = net.cli("plan", "--limit", "r1", "--format", "json")
    report = net.deploy(limit=("r1",))

    assert planned.exit_code in (0, 3), planned.output
    assert report.exit_code == 0, report
    assert "10.255.202.0/24" not in net.lab.running("r1")
    assert net.lab.running("r1") == net.artifact(net.first, "r1")


# --------------------------------------------------------------------------- the content rule refuses
def test_a_commit_whose_snapshots_are_not_its_render_is_refused_naming_the_files(net: Net) -> None:
    cfg = net.root / "snapshots" / "r2.cfg"
    cfg.write_text(cfg.read_text() + "ip route 10.66.0.0/16 blackhole\n")
    _git(net.root, "commit", "-q", "-am", "hand edit (a trailer would not help)")
    before = _generations(net)

    result = net.cli("deploy", "--yes")

    assert result.exit_code == 1
    assert "r2.cfg" in result.output and "r1.cfg" not in result.output
    assert _generations(net) == before


def test_a_forged_digest_trailer_does_not_make_a_release(net: Net) -> None:
    """Trailers are provenance: a hand edit whose message copies a real release's trailers is refused."""
    message = _git(net.root, "log", "-1", "--format=%B", net.first)
    cfg = net.root / "snapshots" / "r3.cfg"
    cfg.write_text(cfg.read_text() + "ip route 10.67.0.0/16 blackhole\n")
    _git(net.root, "commit", "-q", "-am", message)
    before = _generations(net)

    with pytest.raises(ApprovalError, match=r"r3\.cfg"):
        net.deploy()

    assert _generations(net) == before


# --------------------------------------------------------------------------- item 3: one default revision
def test_plan_and_deploy_default_to_the_same_revision(net: Net) -> None:
    """On a feature branch, plan showed the branch and deploy pushed main; now both take HEAD (and the
    deploy refuses HEAD because it is not approved)."""
    _git(net.root, "checkout", "-q", "-b", "feature")
    feature = net.announce("r1", "10.255.203.0/24")
    before = _generations(net)

    planned = net.cli("plan", "--format", "json")
    deployed = net.cli("deploy", "--yes")

    assert feature[:10] in planned.output
    assert deployed.exit_code == 1
    assert feature[:10] in deployed.output and "approval branch" in deployed.output
    assert _generations(net) == before


# --------------------------------------------------------------------------- item 4: self-approval
def test_a_release_cannot_name_its_own_branch_as_the_approval_branch(net: Net) -> None:
    _git(net.root, "checkout", "-q", "-b", "mr-42")
    settings = net.root / "netimmutable.yaml"
    settings.write_text(settings.read_text().replace("approval_branch: main", "approval_branch: mr-42"))
    net.announce("r1", "10.255.204.0/24")
    before = _generations(net)

    result = net.cli("deploy", "--yes")

    assert result.exit_code == 1, result.output
    assert "approval branch" in result.output
    assert _generations(net) == before
    assert "10.255.204.0/24" not in net.lab.running("r1")


def test_local_git_config_names_the_approval_branch(net: Net) -> None:
    """The untracked setting (`git config netimmutable.approvalBranch`) approves a branch by name."""
    _git(net.root, "checkout", "-q", "-b", "release")
    release = net.announce("r1", "10.255.205.0/24")
    with pytest.raises(ApprovalError, match="approval branch 'main'"):
        net.deploy(limit=("r1",))
    _git(net.root, "config", "netimmutable.approvalBranch", "release")

    report = net.deploy(limit=("r1",))

    assert report.exit_code == 0, report
    assert net.records().last_good("r1").release == release  # type: ignore[union-attr]


def test_the_approval_branch_tip_may_name_another_branch(net: Net) -> None:
    """main's own settings say `approval_branch: prod`: prod approves (and prod's tip must agree)."""
    settings = net.root / "netimmutable.yaml"
    settings.write_text(settings.read_text().replace("approval_branch: main", "approval_branch: prod"))
    _git(net.root, "commit", "-q", "-am", "approve from prod")
    _git(net.root, "branch", "prod", "HEAD~1")  # prod's tip still names main: the settings disagree
    with pytest.raises(ApprovalError, match="disagree"):
        net.deploy()
    _git(net.root, "branch", "-f", "prod", "main")

    assert net.deploy().exit_code == 0


# --------------------------------------------------------------------------- items 3 and 7: remotes, CI
def _clone_of_a_remote(net: Net, tmp_path: Path) -> tuple[Path, Path]:
    remote = tmp_path / "remote.git"
    _git(tmp_path, "init", "-q", "--bare", str(remote))
    _git(net.root, "remote", "add", "origin", str(remote))
    _git(net.root, "push", "-q", "origin", "main")
    return remote, tmp_path


def test_with_a_remote_unpushed_local_commits_on_main_are_not_approved(net: Net, tmp_path: Path) -> None:
    _clone_of_a_remote(net, tmp_path)
    local = net.announce("r1", "10.255.206.0/24")  # on local main, never pushed (never reviewed)
    before = _generations(net)

    with pytest.raises(ApprovalError, match="origin/main"):
        net.deploy(limit=("r1",))
    assert _generations(net) == before
    _git(net.root, "push", "-q", "origin", "main")

    assert net.deploy(limit=("r1",)).exit_code == 0
    assert net.records().last_good("r1").release == local  # type: ignore[union-attr]


def test_a_detached_head_clone_without_a_local_main_deploys(net: Net, tmp_path: Path) -> None:
    """A CI runner: detached HEAD at the approval branch's tip, no local `main` branch."""
    remote, _ = _clone_of_a_remote(net, tmp_path)
    release = net.announce("r1", "10.255.207.0/24")
    _git(net.root, "push", "-q", "origin", "main")
    runner = tmp_path / "runner"
    _git(tmp_path, "clone", "-q", "--no-checkout", str(remote), str(runner))
    _git(runner, "checkout", "-q", "--detach", release)
    _git(runner, "update-ref", "-d", "refs/heads/main")
    assert "main" not in _git(runner, "branch", "--list")
    (runner / ".netimmutable").mkdir()
    connections = net.root / ".netimmutable" / "connections.yaml"  # the sim lab's, by absolute path
    (runner / ".netimmutable" / "connections.yaml").write_text(connections.read_text())

    result = subprocess.run(
        ["git", "-C", str(runner), "status", "--porcelain"], check=True, capture_output=True, text=True
    )
    assert result.stdout == "", result.stdout  # .netimmutable/ is ignored by the example's .gitignore

    out = CliRunner().invoke(
        main, ["deploy", "--limit", "r1", "--yes", "--repo", str(runner)], catch_exceptions=False
    )

    assert out.exit_code == 0, out.output
    assert "10.255.207.0/24" in net.lab.running("r1")


def _runner(net: Net, remote: Path, where: Path, commit: str) -> Path:
    """A CI runner's clone: detached HEAD at ``commit``, no local branch, the sim lab's connections."""
    _git(where.parent, "clone", "-q", "--no-checkout", str(remote), str(where))
    _git(where, "checkout", "-q", "--detach", commit)
    _git(where, "update-ref", "-d", "refs/heads/main")
    (where / ".netimmutable").mkdir()
    connections = net.root / ".netimmutable" / "connections.yaml"  # NETIMMUTABLE_CONNECTIONS, as a file
    (where / ".netimmutable" / "connections.yaml").write_text(connections.read_text())
    return where


def test_the_ci_deploy_recipe_runs_in_a_detached_runner_clone(
    net: Net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/review.md's pipelines, command by command: the merge request's runner plans the branch; the
    merge commit is deployed in another runner's detached-HEAD clone with that plan, then verified into
    JSON and JUnit reports."""
    monkeypatch.setenv("NETIMMUTABLE_PASSWORD", "from-the-ci-secret-store")  # as the recipe's variables
    remote, _ = _clone_of_a_remote(net, tmp_path)
    assert net.cli("records", "push", "origin").exit_code == 0
    _git(net.root, "checkout", "-q", "-b", "feature")
    feature = net.announce("r1", "10.255.208.0/24")
    _git(net.root, "push", "-q", "origin", "feature")

    def step(root: Path, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, [*args, "--repo", str(root)], catch_exceptions=False)
        return result.exit_code, result.stdout

    mr = _runner(net, remote, tmp_path / "mr-runner", feature)  # the merge-request pipeline
    _git(mr, "fetch", "-q", "origin", "main")
    assert step(mr, "records", "fetch", "origin")[0] == 0
    code, plan_md = step(mr, "plan", "HEAD", "--save", str(mr / "plan.json"), "--format", "markdown")
    assert code == 3 and "r1" in plan_md  # `|| test $? -eq 3`: r1 changes

    _git(net.root, "checkout", "-q", "main")  # the merge request is merged
    _git(net.root, "merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature")
    _git(net.root, "push", "-q", "origin", "main")
    merge = _git(net.root, "rev-parse", "HEAD")

    runner = _runner(net, remote, tmp_path / "runner", merge)  # the deploy job
    monkeypatch.chdir(runner)
    _git(runner, "fetch", "-q", "origin", "main")
    exclude = runner / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + "/plan.*\n/deploy.json\n/verify.*\n")  # the recipe's printf
    (runner / "plan.json").write_text((mr / "plan.json").read_text())  # the artifact, downloaded
    (runner / "deploy.json").write_text("")  # `> deploy.json` creates it before deploy runs
    code, out = step(runner, "deploy", "--yes", "--plan", "plan.json", "--format", "json")
    (runner / "deploy.json").write_text(out)
    assert code == 0, out  # records fetched, devices leased, records pushed by deploy itself
    code, _ = step(runner, "verify", "--quiet", "-o", "verify.json", "-o", "verify.xml")
    assert code == 0

    deployed = json.loads((runner / "deploy.json").read_text())
    assert {h["host"]: h["outcome"] for h in deployed["hosts"]}["r1"] == "deployed"
    verified = json.loads((runner / "verify.json").read_text())
    assert {h["state"] for h in verified["hosts"]} == {"in-sync"}
    junit = (runner / "verify.xml").read_text()
    assert junit.startswith('<?xml version="1.0" encoding="utf-8"?>\n<testsuites') and '"r1"' in junit
    assert "10.255.208.0/24" in net.lab.running("r1")
    assert _git(remote, "rev-parse", "refs/netimmutable/good/r1") == merge
    assert _git(remote, "for-each-ref", "refs/netimmutable/leases/") == ""
