"""Scheduled verification on the real FRR lab (routers in network namespaces, over SSH).

Each test gets its own network repository whose release is what the lab's routers run, recorded good on
every router; routers are reset to it before and after.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from netimmutable.artifacts import commit_release, open_git
from netimmutable.cli import main
from netimmutable.inventory import load_inventory
from netimmutable.records import Records
from netimmutable.render import compare_snapshots, render_hosts, write_snapshots
from netimmutable.repo import open_repo
from netimmutable.scaffold import init_repo

from .conftest import FrrLab, FrrRouter, record_timing

# one lab per machine: every real-router test runs in the same xdist worker, one after another
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("frr-lab")]
CONNECT_TIMEOUT = 5

SETTINGS = """\
version: 1
deploy:
  revert_in: 120
  settle_timeout: 20
  settle_interval: 0.5
verify:
  workers: 4
"""


@dataclass
class VerifyNet:
    root: Path
    lab: FrrLab
    release: str

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, [*args, "--repo", str(self.root)], catch_exceptions=False)

    def verify_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = self.cli("verify", "--format", "json", *args)
        return result.exit_code, json.loads(result.stdout)

    def router(self, name: str) -> FrrRouter:
        return self.lab.router(name)


def _states(report: dict[str, Any]) -> dict[str, str]:
    return {h["host"]: h["state"] for h in report["hosts"]}


def _host(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(h for h in report["hosts"] if h["host"] == name)


def _wait_established(router: FrrRouter, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while router.established() < router.bgp_peers:
        if time.monotonic() > deadline:
            pytest.fail(f"{router.name}: BGP did not converge")
        time.sleep(0.3)


@pytest.fixture
def verify_net(frr_lab: FrrLab, tmp_path: Path) -> Iterator[VerifyNet]:
    root = init_repo(tmp_path / "network")
    for name in ("inventory", "templates"):
        shutil.rmtree(root / name, ignore_errors=True)
        shutil.copytree(frr_lab.repo / name, root / name)
    (root / "netimmutable.yaml").write_text(SETTINGS)
    # the lab's connections, with a short timeout so a router that is down fails fast
    connections = yaml.safe_load((frr_lab.repo / ".netimmutable" / "connections.yaml").read_text())
    for entry in connections["hosts"].values():
        entry["timeout"] = CONNECT_TIMEOUT
    (root / ".netimmutable").mkdir(exist_ok=True)
    (root / ".netimmutable" / "connections.yaml").write_text(yaml.safe_dump(connections))
    repo = open_repo(root)
    loaded = load_inventory(repo)
    rendered = render_hosts(repo, loaded.hosts())
    write_snapshots(repo, rendered, compare_snapshots(repo, rendered, [h.name for h in loaded.hosts()]))
    with open_git(repo) as gitrepo:
        result = commit_release(repo, gitrepo, rendered, "what the lab runs")
        assert result.release is not None
        records = Records(repo, gitrepo)
        for router in frr_lab.routers.values():
            router.reset()
            assert router.running() == (root / "snapshots" / f"{router.name}.cfg").read_text()
            records.mark_good(router.name, result.release.sha, "integration-setup")
    for router in frr_lab.routers.values():
        _wait_established(router)
    try:
        yield VerifyNet(root, frr_lab, result.release.sha)
    finally:
        routers = list(frr_lab.routers.values())
        for router in routers:
            router.sh("ip link set eth0 up", check=False)
        # routers off their snapshot first: the others wait for BGP, which needs their peers back
        for router in sorted(routers, key=lambda r: r.running() == r.baseline):
            router.reset()


def test_in_sync_with_expectations(verify_net: VerifyNet) -> None:
    started = time.monotonic()
    code, report = verify_net.verify_json("--expectations")
    record_timing("verify_frr_4_hosts_expectations", time.monotonic() - started)
    assert code == 0, report
    assert set(_states(report).values()) == {"in-sync"}
    assert all(h["expectations"] == "passed" for h in report["hosts"])


def test_out_of_band_change_is_drift_then_rollback_restores_sync(verify_net: VerifyNet) -> None:
    r3 = verify_net.router("r3")
    r3.oob_edit(["ip route 10.9.0.0/24 blackhole"])
    assert "ip route 10.9.0.0/24 blackhole" in r3.running()

    code, report = verify_net.verify_json()
    assert code == 3
    assert _states(report) == {"r1": "in-sync", "r2": "in-sync", "r3": "drift", "r4": "in-sync"}
    diff = _host(report, "r3")["diff"]
    changed = [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert changed == ["+ip route 10.9.0.0/24 blackhole"]
    assert [r["command"] for r in _host(report, "r3")["remediation"]] == [
        "netimmutable rollback r3",
        "netimmutable show-running r3",
    ]
    text = verify_net.cli("verify", "--limit", "r3")
    assert text.exit_code == 3 and "+ip route 10.9.0.0/24 blackhole" in text.stdout

    started = time.monotonic()
    rolled = verify_net.cli("rollback", "r3", "--yes")
    record_timing("verify_frr_rollback_r3", time.monotonic() - started)
    assert rolled.exit_code == 0, rolled.output
    assert "ip route 10.9.0.0/24 blackhole" not in r3.running()

    code, report = verify_net.verify_json("--expectations")
    assert code == 0, report
    assert set(_states(report).values()) == {"in-sync"}


def test_router_down_is_unreachable_not_drift(verify_net: VerifyNet) -> None:
    r4 = verify_net.router("r4")
    # r4 fails faster than the others (each of its 3 connection attempts gives up after 1 s): this test is
    # about how a router that cannot be reached is reported, not about how long a login waits for it
    connections = verify_net.root / ".netimmutable" / "connections.yaml"
    data = yaml.safe_load(connections.read_text())
    data["hosts"]["r4"]["timeout"] = 1
    connections.write_text(yaml.safe_dump(data))
    r4.sh("ip link set eth0 down")  # the router's management link: no SSH session can reach it
    try:
        started = time.monotonic()
        code, report = verify_net.verify_json("--limit", "r1,r4")
        record_timing("verify_frr_unreachable_router", time.monotonic() - started)
        assert code == 1, report
        assert _states(report) == {"r1": "in-sync", "r4": "unreachable"}
        assert _host(report, "r4")["diff"] is None
        code, _ = verify_net.verify_json("--limit", "r1,r4", "--unreachable-ok")
        assert code == 0
    finally:
        r4.sh("ip link set eth0 up")


@pytest.mark.parametrize("flags", [("--expectations",), ()], ids=["asked", "default"])
def test_broken_bgp_session_fails_expectations(verify_net: VerifyNet, flags: tuple[str, ...]) -> None:
    """Without flags too (issue 12, measured: the default verify said "4 in-sync" on a broken session)."""
    r2 = verify_net.router("r2")
    r2.oob_edit(["router bgp 65002", "neighbor 10.255.12.1 shutdown"])
    deadline = time.monotonic() + 30
    while verify_net.router("r1").established() == verify_net.router("r1").bgp_peers:
        assert time.monotonic() < deadline, "r1's session to r2 did not go down"
        time.sleep(0.3)

    code, report = verify_net.verify_json(*flags, "--limit", "r1,r2,r3")
    assert code == 3, report
    assert _states(report) == {"r1": "expectations-failed", "r2": "drift", "r3": "in-sync"}
    r1 = _host(report, "r1")
    assert r1["diff"] is None
    assert any("10.255.12.2" in item for item in r1["failed_expectations"]), r1["failed_expectations"]
    assert "+ neighbor 10.255.12.1 shutdown" in _host(report, "r2")["diff"]
