"""FRR configurations written in other people's style (issue 15 item 7): two-space indentation, blocks in
another order, no ``exit`` lines. FRR treats them as the same configuration; netimmutable must too
(``text-first``: FRR's own semantic diff confirms a text difference), in the drift gate, convergence,
verify and a real change. Before, the text compare counted every such difference as a change: nothing to
change on the device, yet "the checks fail" (convergence), and verify reported drift."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from netimmutable.cli import main
from netimmutable.records import HostOutcome

from .conftest import FrrNet, restyled

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("frr-lab")]


def test_a_config_in_another_style_is_no_change_and_in_sync(frr_net: FrrNet) -> None:
    snapshot = (frr_net.root / "snapshots" / "r1.cfg").read_text()
    styled = restyled(snapshot)
    assert styled != snapshot and "\n  neighbor" in styled and "\nexit\n" not in styled
    frr_net.use_template("r1", styled)
    release = frr_net.commit("r1: the same config, in another style")

    report = frr_net.deploy(limit=("r1",))

    [r1] = report.hosts
    assert r1.outcome is HostOutcome.UNCHANGED, r1.message
    assert frr_net.records().last_good("r1").release == release  # type: ignore[union-attr]
    out = CliRunner().invoke(
        main, ["verify", "--repo", str(frr_net.root), "--format", "json", "--limit", "r1"]
    )
    [host] = json.loads(out.stdout)["hosts"]
    assert host["state"] == "in-sync", host
    assert host["compared_by"] == "device"  # the texts differ: FRR's own diff decided
    assert out.exit_code == 0


def test_a_change_written_in_another_style_deploys_and_converges(frr_net: FrrNet) -> None:
    snapshot = (frr_net.root / "snapshots" / "r1.cfg").read_text()
    changed = snapshot.replace(
        "ip route 10.255.101.0/24 blackhole\n",
        "ip route 10.255.101.0/24 blackhole\nip route 10.255.121.0/24 blackhole\n",
    ).replace("  network 10.255.101.0/24\n", "  network 10.255.101.0/24\n  network 10.255.121.0/24\n")
    assert changed != snapshot
    frr_net.use_template("r1", restyled(changed))
    release = frr_net.commit("r1: announce 10.255.121.0/24, in another style")

    report = frr_net.deploy(limit=("r1",))

    [r1] = report.hosts
    assert r1.outcome is HostOutcome.DEPLOYED, r1.message
    running = frr_net.router("r1").running()
    assert "network 10.255.121.0/24" in running
    assert frr_net.records().last_good("r1").release == release  # type: ignore[union-attr]


def test_drift_under_another_style_is_still_drift(frr_net: FrrNet) -> None:
    snapshot = (frr_net.root / "snapshots" / "r2.cfg").read_text()
    frr_net.use_template("r2", restyled(snapshot))
    frr_net.commit("r2: another style")
    assert frr_net.deploy(limit=("r2",)).exit_code == 0
    frr_net.router("r2").oob_edit(["ip route 10.66.0.0/16 blackhole"])

    out = CliRunner().invoke(
        main, ["verify", "--repo", str(frr_net.root), "--format", "json", "--limit", "r2"]
    )

    [host] = json.loads(out.stdout)["hosts"]
    assert host["state"] == "drift", host
    assert host["compared_by"] == "device"
    assert "10.66.0.0/16" in host["diff"]
    assert out.exit_code != 0
