"""status, history and the default diff (last deployed per device vs HEAD) read the records."""

from __future__ import annotations

import json
from pathlib import Path

from netimmutable.artifacts import open_git
from netimmutable.records import HostOutcome, HostRecord, Records, RunRecord
from tests.unit.netrepo_helpers import run_cli
from tests.unit.records_fixtures import BAD_CHANGE, GOOD_CHANGE, make_net, release


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
                HostRecord("r2", HostOutcome.ROLLED_BACK, "bad"),
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
    assert hosts["r3"]["last_run"] is None
    text = run_cli(["status", "--repo", str(net.root)]).stdout
    assert "never verified" in text and "in-sync" in text
    history = run_cli(["history", "r2", "--repo", str(net.root)]).stdout
    assert "run-1" in history and "rolled-back" in history and "r1 " not in history
    data = json.loads(run_cli(["history", "--repo", str(net.root), "--format", "json"]).stdout)
    assert data["runs"][0]["run_id"] == "run-1" and data["runs"][0]["record"]
