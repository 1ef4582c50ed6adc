"""status, history and the default diff (last deployed per device vs HEAD) read the records."""

from __future__ import annotations

import json
from pathlib import Path

from netimmutable.artifacts import open_git
from netimmutable.outcomes import Cause
from netimmutable.records import HostOutcome, HostRecord, Records, RunRecord
from tests.unit.netrepo_helpers import run_cli
from tests.unit.records_fixtures import BAD_CHANGE, GOOD_CHANGE, git, make_net, release


def test_default_diff_is_last_deployed_vs_head_per_device(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    second = release(net.root, "r1 description", GOOD_CHANGE)
    records = Records(net.repo, open_git(net.repo))
    records.mark_good("r1", net.first, "run-1")  # r1 still runs the first release
    release(net.root, "wrong AS", BAD_CHANGE)  # HEAD; previous release: second
    result = run_cli(["diff", "--repo", str(net.root), "--format", "json"])
    data = json.loads(result.stdout)
    [r1] = data["hosts"]
    assert data["from"] == "last deployed"
    # r1: both changes since its deployed release; never-deployed hosts: HEAD vs `second`, unchanged
    assert "to r2 link" in r1["diff"] and "65099" in r1["diff"] and net.first[:10] in r1["diff"]
    records.mark_good("r1", second, "run-2")
    data = json.loads(run_cli(["diff", "--repo", str(net.root), "--format", "json"]).stdout)
    assert "to r2 link" not in data["hosts"][0]["diff"] and "65099" in data["hosts"][0]["diff"]
    explicit = json.loads(
        run_cli(["diff", net.first, second, "--repo", str(net.root), "--format", "json"]).stdout
    )
    assert [h["host"] for h in explicit["hosts"]] == ["r1"]


def test_status_and_history(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    records = Records(net.repo, open_git(net.repo))
    records.write_run(
        RunRecord(
            "run-1",
            "deploy",
            net.first,
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:01:00Z",
            "ann@box",
            (
                HostRecord("r1", HostOutcome.DEPLOYED, "deployed"),
                HostRecord("r2", HostOutcome.ROLLED_BACK, "bad", cause=Cause.CHECKS),
            ),
        ),
        {},
    )
    records.mark_good("r1", net.first, "run-1")
    state = net.root / ".netimmutable" / "verify-state.json"
    state.write_text(json.dumps({"hosts": {"r1": {"when_utc": "2024-01-02T00:00:00Z", "state": "in-sync"}}}))
    result = run_cli(["status", "--repo", str(net.root), "--format", "json"])
    hosts = {h["host"]: h for h in json.loads(result.stdout)["hosts"]}
    assert hosts["r1"]["last_good"]["release"] == net.first
    assert hosts["r1"]["last_verify"]["state"] == "in-sync"
    assert hosts["r2"]["last_good"] is None and hosts["r2"]["last_run"]["outcome"] == "rolled-back"
    assert hosts["r2"]["last_run"]["cause"] == "checks"  # the one cause vocabulary, as deploy says it
    assert hosts["r3"]["last_run"] is None
    text = run_cli(["status", "--repo", str(net.root)]).stdout
    assert "never verified" in text and "in-sync" in text
    history = run_cli(["history", "r2", "--repo", str(net.root)]).stdout
    assert "run-1" in history and "rolled-back" in history and "r1 " not in history
    data = json.loads(run_cli(["history", "--repo", str(net.root), "--format", "json"]).stdout)
    assert data["runs"][0]["run_id"] == "run-1" and data["runs"][0]["record"]


def test_status_in_a_shallow_clone_says_reachability_cannot_be_proven(tmp_path: Path) -> None:
    """Issue 14 item 14: a CI checkout (`--depth 1`) cannot walk from the branch tip to an older release, so
    `status` warned "release not on the approval branch any more" for a release that is on it."""
    net = make_net(tmp_path)
    second = release(net.root, "r1 description", GOOD_CHANGE)
    release(net.root, "wrong AS", BAD_CHANGE)  # the tip: `second` is one commit below it
    Records(net.repo, open_git(net.repo)).mark_good("r1", second, "run-1")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{net.root}", str(clone))
    fetched = run_cli(["records", "fetch", "--repo", str(clone)])  # trust needs the proof: refused, and why
    assert "refs/netimmutable/good/r1" in fetched.output and "shallow clone" in fetched.output
    git(clone, "fetch", "-q", "origin", "+refs/netimmutable/*:refs/netimmutable/*")  # by hand

    text = run_cli(["status", "--repo", str(clone)]).stdout
    assert "not on the approval branch any more" not in text
    assert "shallow clone" in text and "git fetch --unshallow" in text
    data = json.loads(run_cli(["status", "--repo", str(clone), "--format", "json"]).stdout)
    r1 = next(h for h in data["hosts"] if h["host"] == "r1")
    assert r1["last_good"]["release"] == second and r1["last_good"]["on_approval_branch"] is None

    git(clone, "fetch", "-q", "--unshallow", "origin")
    text = run_cli(["status", "--repo", str(clone)]).stdout
    assert "shallow" not in text and "not on the approval branch" not in text


def test_deploying_an_older_release_from_a_shallow_clone_is_refused_with_the_unshallow_hint(
    tmp_path: Path,
) -> None:
    """Issue 14 item 14, deploy side: in a shallow clone an older release cannot be proven to be on the
    approval branch (the walk from the tip is cut), so it is refused, saying why and what to do; no
    device is touched. After `git fetch --unshallow` the proof is there."""
    net = make_net(tmp_path)
    second = release(net.root, "r1 description", GOOD_CHANGE)
    release(net.root, "wrong AS", BAD_CHANGE)  # the tip: `second` is one commit below it
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{net.root}", str(clone))
    git(clone, "fetch", "-q", "--depth", "1", "origin", second)  # the release itself, not the walk to it
    (clone / ".netimmutable").mkdir(exist_ok=True)
    (clone / ".netimmutable" / "connections.yaml").write_bytes(
        (net.root / ".netimmutable" / "connections.yaml").read_bytes()
    )
    running = {host: net.lab.running(host) for host in net.lab.hosts()}

    result = run_cli(["deploy", second, "--yes", "--repo", str(clone)])
    assert result.exit_code == 1, result.output
    assert "cannot be proven to be on the approval branch" in result.stderr
    assert "shallow clone" in result.stderr and "git fetch --unshallow" in result.stderr
    assert "Traceback" not in result.output
    assert {host: net.lab.running(host) for host in net.lab.hosts()} == running
    assert git(clone, "for-each-ref", "refs/netimmutable/runs") == ""  # no run began

    git(clone, "fetch", "-q", "--unshallow", "origin")
    result = run_cli(["deploy", second, "--yes", "--repo", str(clone)])
    assert result.exit_code == 0, result.output  # now provable: deployed
    assert "cannot be proven" not in result.output and "shallow" not in result.output
