"""plan: the device's own diff, candidate always discarded, typed outcomes, saved plans pinning devices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netimmutable.artifacts import open_git
from netimmutable.connections import prepare_hosts
from netimmutable.device import Device
from netimmutable.errors import InputError
from netimmutable.exitcodes import ExitCode
from netimmutable.inventory import load_inventory, select_hosts
from netimmutable.plan import (
    Plan,
    PlanMismatch,
    PlanStatus,
    check_against_plan,
    deploy_pins,
    format_plan,
    load_plan,
    make_plan,
    save_plan,
)
from netimmutable.records import Records
from netimmutable.secrets import Secrets
from tests.unit.netrepo_helpers import run_cli
from tests.unit.records_fixtures import BAD_CHANGE, GOOD_CHANGE, Net, make_net, release


def _plan(net: Net, rev: str, limit: tuple[str, ...] = ()) -> Plan:
    repo = net.repo
    loaded = load_inventory(repo)
    hosts = select_hosts(loaded, limit)
    records = Records(repo, open_git(repo))
    artifacts = {h.name: records.artifact(rev, h.name) for h in hosts}
    secrets = Secrets(repo)
    prepare_hosts(repo, hosts)
    return make_plan(
        rev, "test", artifacts, hosts, loaded, workers=4, resolve=secrets.resolve, secrets=secrets.resolved
    )


def test_plan_shows_device_diffs_and_leaves_devices_untouched(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    second = release(net.root, "r1 description", GOOD_CHANGE)
    before = {h: net.lab.state(h) for h in ("r1", "r2", "r3", "r4")}
    plan = _plan(net, second)
    assert [(h.host, h.status) for h in plan.hosts] == [
        ("r1", PlanStatus.CHANGED),
        ("r2", PlanStatus.UNCHANGED),
        ("r3", PlanStatus.UNCHANGED),
        ("r4", PlanStatus.UNCHANGED),
    ]
    r1 = plan.hosts[0]
    assert "+ description to r2 link" in r1.diff and "- description to r2" in r1.diff
    assert r1.running_digest and r1.running_digest.startswith("sha256:") and r1.platform == "frr"
    assert plan.exit_code is ExitCode.CHANGES
    for host, state in before.items():  # nothing committed, nothing pending
        assert net.lab.running(host) == state.running
        assert not net.lab.has_pending(host)
    assert "r1" in format_plan(plan, "markdown") and "```diff" in format_plan(plan, "markdown")
    assert json.loads(format_plan(plan, "json"))["hosts"][0]["status"] == "changed"


def test_unreachable_and_rejected_hosts_are_typed_outcomes(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    net.lab.set_knobs("r2", unreachable=True)
    net.lab.set_knobs(
        "r3", fail_step="load", fail_exception="ReplaceConfigException", fail_message="% device says no"
    )
    plan = _plan(net, net.first)
    status = {h.host: h for h in plan.hosts}
    assert status["r1"].status is PlanStatus.UNCHANGED
    assert status["r2"].status is PlanStatus.UNREACHABLE
    assert status["r3"].status is PlanStatus.ERROR and "% device says no" in status["r3"].message
    assert plan.exit_code is ExitCode.ERROR
    net.lab.clear_knobs("r3")
    assert not net.lab.has_pending("r3")


def test_discard_happens_even_when_compare_fails(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    calls: list[str] = []

    class Spy:
        platform = "frr"

        def __init__(self, inner: Device) -> None:
            self.inner = inner

        def running_config(self) -> str:
            return self.inner.running_config()

        def preflight(self, running: str | None = None) -> None:
            self.inner.preflight(running)

        def load_replace(self, config: str) -> None:
            calls.append("load")
            self.inner.load_replace(config)

        def compare(self) -> str:
            calls.append("compare")
            raise __import__("netimmutable.errors", fromlist=["DeviceError"]).DeviceError("boom", host="r1")

        def discard(self) -> None:
            calls.append("discard")
            self.inner.discard()

        def close(self) -> None:
            calls.append("close")
            self.inner.close()

    repo = net.repo
    loaded = load_inventory(repo)
    hosts = select_hosts(loaded, ("r1",))
    prepare_hosts(repo, hosts)
    plan = make_plan(
        net.first,
        "s",
        {"r1": net.artifact("r1")},
        hosts,
        loaded,
        workers=1,
        resolve=lambda t: t,
        secrets={},
        open_device=lambda h: Spy(Device.open(h)),
    )
    assert plan.hosts[0].status is PlanStatus.ERROR and "boom" in plan.hosts[0].message
    assert calls == ["load", "compare", "discard", "close"]


def test_saved_plan_refuses_a_device_changed_since(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    second = release(net.root, "r1 description", GOOD_CHANGE)
    plan = _plan(net, second)
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    loaded_plan = load_plan(path)
    assert loaded_plan == plan

    repo = net.repo
    loaded = load_inventory(repo)
    [r1] = select_hosts(loaded, ("r1",))
    prepare_hosts(repo, [r1])

    def observe() -> tuple[str, str]:
        with Device.open(r1) as dev:
            running = dev.running_config()
            dev.load_replace(net.artifact("r1"))
            try:
                return running, dev.compare()
            finally:
                dev.discard()

    running, diff = observe()
    check_against_plan(loaded_plan, second, "r1", running, diff, "frr")  # nothing changed: passes
    pins = deploy_pins(path, second, ["r1", "r9"])
    assert pins["r1"].check(running, diff) is None
    assert pins["r9"].check(running, diff) == "the host is not in the plan"

    net.lab.edit("r1", add=["ip route 10.77.0.0/24 blackhole"])  # out-of-band change after the review
    running, diff = observe()
    with pytest.raises(PlanMismatch, match="running config changed"):
        check_against_plan(loaded_plan, second, "r1", running, diff, "frr")
    assert pins["r1"].check(running, diff) is not None
    with pytest.raises(PlanMismatch, match="plan is for release"):
        deploy_pins(path, net.first, ["r1"])


def test_plan_cli_exit_codes_formats_and_save(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    result = run_cli(["plan", "--repo", str(net.root)])
    assert result.exit_code == 0, result.output
    release(net.root, "bad AS", BAD_CHANGE)
    saved = tmp_path / "p.json"
    result = run_cli(["plan", "--repo", str(net.root), "--format", "json", "--save", str(saved)])
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert {h["host"]: h["status"] for h in data["hosts"]}["r1"] == "changed"
    assert json.loads(saved.read_text())["schema"] == "netimmutable.plan/1"
    result = run_cli(["plan", "--repo", str(net.root), "--limit", "r2", "--format", "markdown"])
    assert result.exit_code == 0 and "`r2` | unchanged" in result.stdout
    net.lab.set_knobs("r1", unreachable=True)
    result = run_cli(["plan", "--repo", str(net.root), "--limit", "r1"])
    assert result.exit_code == 1 and "unreachable" in result.stdout
    with pytest.raises(InputError) as missing:
        load_plan(tmp_path / "nope.json")
    assert missing.value.file == str(tmp_path / "nope.json")
