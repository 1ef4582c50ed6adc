"""`verify` knows about runs: a host a run is changing is `in-flight`, never `drift` (issue 12).

Measured before: during a window, or after a killed run, verify reported the host as drift with the advice
`netimmutable rollback r1` (which the run's lock then refused) and stored that as its last verify.
"""

from __future__ import annotations

import json

from netimmutable.journal import Journal
from netimmutable.locks import device_lock
from netimmutable.verify_state import read_verify_state

from .conftest import Net

MID_CHANGE = "ip route 10.7.0.0/24 blackhole"


def _verify(net: Net) -> tuple[int, dict[str, dict[str, object]]]:
    result = net.cli("verify", "--format", "json")
    report = json.loads(result.stdout)
    return result.exit_code, {h["host"]: h for h in report["hosts"]}


def test_a_host_in_a_journaled_run_is_in_flight_not_drift(net: Net) -> None:
    journal = Journal.open(net.repo, "run-window", release=net.first)
    try:
        journal.before("r1", "commit")
        net.lab.edit("r1", add=[MID_CHANGE])  # what the device runs while the run changes it

        code, hosts = _verify(net)
    finally:
        journal.close()

    assert code == 1, hosts
    r1 = hosts["r1"]
    assert r1["state"] == "in-flight", r1
    assert "run-window" in str(r1["message"]) and "in progress" in str(r1["message"])
    assert r1["diff"] in (None, "")
    assert [r["command"] for r in r1["remediation"]] == ["netimmutable status"]  # type: ignore[union-attr]
    assert "recover" in str(r1["remediation"])
    assert {hosts[h]["state"] for h in ("r2", "r3", "r4")} == {"in-sync"}
    assert read_verify_state(net.repo)["r1"].state == "in-flight"  # not stored as drift


def test_a_host_whose_device_lock_a_live_run_holds_is_in_flight(net: Net) -> None:
    with device_lock(net.repo, "r2", "run-elsewhere"):
        net.lab.edit("r2", add=[MID_CHANGE])
        code, hosts = _verify(net)
    assert code == 1
    assert hosts["r2"]["state"] == "in-flight" and "run-elsewhere" in str(hosts["r2"]["message"])
    assert hosts["r1"]["state"] == "in-sync"


def test_once_the_run_is_over_the_same_host_is_drift_again(net: Net) -> None:
    net.lab.edit("r1", add=[MID_CHANGE])
    code, hosts = _verify(net)
    assert code == 3 and hosts["r1"]["state"] == "drift"
