"""A community driver netimmutable does not know, without ``get_config`` (issue 15 item 3): plan, the drift
gate, convergence, rollback and verify compare through the device's own ``compare_config``; it gets no
commit message and no device-side timer, and says so before the window. Before, every one of these failed
with "get_config: not supported by this driver", recorded as ``unreachable``."""

from __future__ import annotations

import importlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netimmutable.exitcodes import ExitCode
from netimmutable.outcomes import HostOutcome
from tests.unit.deploy.conftest import Net, _build

__all__: list[str] = []

THIRD_PARTY = Path(__file__).resolve().parents[1] / "third_party"


def _blind(net: Net, monkeypatch: pytest.MonkeyPatch) -> Net:
    monkeypatch.syspath_prepend(str(THIRD_PARTY))
    monkeypatch.setenv("NETIMMUTABLE_PASSWORD", secrets.token_urlsafe(12))  # a driver that is not keyless
    path = net.root / ".netimmutable" / "connections.yaml"
    text = path.read_text()
    assert "driver: sim" in text
    path.write_text(text.replace("driver: sim", "driver: blindsim"))
    _driver().config_reads = 0
    return net


def _driver() -> Any:
    """The driver class as NAPALM finds it (the ``napalm_blindsim`` package on the path)."""
    return importlib.import_module("napalm_blindsim").BlindSimDriver


@pytest.fixture
def blind(net: Net, monkeypatch: pytest.MonkeyPatch) -> Net:
    """The example network, deployed once (every host has a last-good), now reached through ``blindsim``."""
    return _blind(net, monkeypatch)


@pytest.fixture
def blind_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Net]:
    for net in _build(tmp_path, baseline=False):
        yield _blind(net, monkeypatch)


def test_a_good_change_deploys_and_is_verified_through_the_devices_compare(blind: Net) -> None:
    release = blind.announce("r1", "10.255.250.0/24")

    report = blind.deploy(limit=("r1",))

    [r1] = report.hosts
    assert r1.outcome is HostOutcome.DEPLOYED, r1
    assert report.exit_code == 0
    assert "10.255.250.0/24" in blind.lab.running("r1")
    assert blind.records().last_good("r1").release == release  # type: ignore[union-attr]
    assert _driver().config_reads == 1  # asked once, then remembered for the run
    assert not blind.lab.has_pending("r1")  # no timer was asked of a driver netimmutable does not know
    said = " ".join(e.message for e in blind.events)
    assert "drivers netimmutable does not know: r1 (blindsim)" in said
    assert "no device-side revert timer" in said


def test_a_failing_change_is_rolled_back_through_a_full_replace(blind: Net) -> None:
    blind.wrong_remote_as("r2")

    report = blind.deploy(limit=("r2",))

    [r2] = report.hosts
    assert r2.outcome is HostOutcome.ROLLED_BACK, r2
    assert blind.lab.running("r2") == blind.artifact(blind.first, "r2")
    assert blind.records().last_good("r2").release == blind.first  # type: ignore[union-attr]


def test_out_of_band_drift_refuses_the_deploy_and_verify_shows_it_from_the_device(blind: Net) -> None:
    blind.lab.set_running(
        "r3", blind.lab.running("r3").replace("\nend\n", "\nip route 10.66.0.0/16 blackhole\nend\n")
    )
    blind.announce("r3", "10.255.251.0/24")

    report = blind.deploy(limit=("r3",))
    [r3] = report.hosts
    assert r3.outcome is HostOutcome.REFUSED and r3.cause == "drift", r3
    assert "10.255.251.0/24" not in blind.lab.running("r3")

    out = blind.cli("verify", "--format", "json")
    hosts = {h["host"]: h for h in json.loads(out.stdout)["hosts"]}
    assert hosts["r3"]["state"] == "drift"
    assert hosts["r3"]["compared_by"] == "device"
    assert "10.66.0.0/16" in hosts["r3"]["diff"]
    assert hosts["r1"]["state"] == "in-sync" and hosts["r1"]["compared_by"] == "device"
    assert out.exit_code != 0


def test_plan_shows_the_devices_diff_without_reading_the_running_config(blind: Net) -> None:
    blind.announce("r4", "10.255.252.0/24")
    out = blind.cli("plan", "--format", "json")
    assert out.exit_code == ExitCode.CHANGES, out.output
    hosts = {h["host"]: h for h in json.loads(out.stdout)["hosts"]}
    assert hosts["r4"]["status"] == "changed"
    assert "10.255.252.0/24" in hosts["r4"]["diff"]
    assert "pins the device's diff only" in hosts["r4"]["message"]
    assert hosts["r1"]["status"] == "unchanged"


def test_a_first_deployment_without_a_way_to_capture_the_running_config_is_refused(blind_fresh: Net) -> None:
    before = blind_fresh.lab.running("r1")
    blind_fresh.announce("r1", "10.255.253.0/24")

    report = blind_fresh.deploy(limit=("r1",))

    [r1] = report.hosts
    assert r1.outcome is HostOutcome.REFUSED, r1
    assert "nothing to roll back to" in r1.message
    assert blind_fresh.lab.running("r1") == before
    assert blind_fresh.records().last_good("r1") is None
