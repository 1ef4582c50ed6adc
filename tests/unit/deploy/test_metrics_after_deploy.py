"""``netimmutable metrics`` over records that real runs wrote: a deploy, a rolled-back change, a verify."""

from __future__ import annotations

import json

from tests.unit.deploy.conftest import Net


def test_metrics_count_what_the_runs_recorded(net: Net) -> None:
    # the fixture's first deploy found r1..r4 on the first release (unchanged: no change); then a good
    # change on r1 and one that breaks BGP on r2
    net.announce("r1", "10.255.201.0/24")
    assert net.deploy(limit=("r1",)).exit_code == 0
    net.wrong_remote_as()
    assert net.deploy(limit=("r2",)).exit_code == 4  # rolled back
    net.lab.edit("r3", add=["ip route 10.9.0.0/24 blackhole"])  # drift, found by the next verify
    assert net.cli("verify", "--limit", "r3,r4", "--format", "json").exit_code == 3
    result = net.cli("metrics", "--since", "1d", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["coverage"]["managed_hosts"] == 4 and report["coverage"]["expectations_hosts"] == 4
    for window in report["windows"]:
        deployments = window["deployments"]
        counts = (deployments["deploy_runs"], deployments["deployments"], deployments["host_deployments"])
        assert counts == (3, 1, 1)
        assert (deployments["changes"], deployments["failed_changes"]) == (2, 1)
        assert deployments["change_failure_rate"] == 0.5
        restores = window["restores"]
        assert (restores["automatic_rollbacks"], restores["restored"], restores["unrestored"]) == (1, 1, 0)
        assert restores["rollback_seconds"]["count"] == 1
        assert restores["restore_seconds"]["max"] == restores["rollback_seconds"]["max"]
        assert window["drift"]["hosts"] == ["r3"] and window["drift"]["verified_hosts"] == 2
        assert window["durations"]["deploy_seconds"]["count"] == 3
        assert window["durations"]["render_seconds"]["count"] == 0  # the fixture commits without `commit`
