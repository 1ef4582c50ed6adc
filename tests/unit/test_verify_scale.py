"""Verify of 1,000 simulated devices in the test tier (no timing is asserted; the wall time is printed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.unit.verify_sim import make_large_sim_net

COUNT = 1000


def test_verify_1000_sim_devices(tmp_path: Path) -> None:
    net = make_large_sim_net(tmp_path / "net", COUNT)
    net.lab.edit("h0500", add=["ip route 10.9.0.0/24 blackhole"])
    net.lab.set_knobs("h0999", unreachable=True)
    started = time.monotonic()
    result = net.verify("--format", "json", "--workers", "50")
    elapsed = time.monotonic() - started
    print(f"verify of {COUNT} sim devices (last-good baselines): {elapsed:.2f} s")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["summary"]["hosts"] == COUNT
    assert report["summary"]["in-sync"] == COUNT - 2
    drifted = [h for h in report["hosts"] if h["state"] == "drift"]
    assert [h["host"] for h in drifted] == ["h0500"]
    assert "+ip route 10.9.0.0/24 blackhole" in drifted[0]["diff"]
    assert [h["host"] for h in report["hosts"] if h["state"] == "unreachable"] == ["h0999"]
    assert all(h["release"] == net.release for h in report["hosts"])
    started = time.monotonic()
    again = net.verify("--format", "json", "--against", "HEAD", "--quiet")
    print(f"verify of {COUNT} sim devices (--against HEAD): {time.monotonic() - started:.2f} s")
    assert json.loads(again.stdout)["summary"] == report["summary"]
