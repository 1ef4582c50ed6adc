"""``netimmutable verify`` on sim devices in temporary git repos: every state, exit code, policy, option."""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest

from netimmutable import verify as verify_module
from netimmutable import verify_model, verify_state
from netimmutable.inventory import load_inventory, select_hosts
from netimmutable.normalize import is_ignored
from netimmutable.verify import VerifyOptions, run_verify
from netimmutable.verify_model import HostState, VerifiedHost
from netimmutable.verify_state import read_verify_state
from tests.unit.netrepo_helpers import commit_all, head
from tests.unit.verify_sim import SimNet, make_sim_net

HOSTS = ["r1", "r2", "r3", "r4"]


@pytest.fixture
def net(tmp_path: Path) -> SimNet:
    return make_sim_net(tmp_path / "net")


def states(report: dict[str, Any]) -> dict[str, str]:
    return {h["host"]: h["state"] for h in report["hosts"]}


def host(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(h for h in report["hosts"] if h["host"] == name)


def test_doctests() -> None:
    for module in (verify_module, verify_model, verify_state):
        assert doctest.testmod(module).failed == 0


# ------------------------------------------------------------------------------------------------ states
def test_all_in_sync_exits_0(net: SimNet) -> None:
    result = net.verify()
    assert result.exit_code == 0, result.output
    assert "4 host(s): 4 in-sync; exit 0" in result.stdout
    code, report = net.verify_json()
    assert code == 0
    assert set(states(report).values()) == {"in-sync"}
    r1 = host(report, "r1")
    assert r1["release"] == net.release
    assert r1["expected_digest"] == r1["running_digest"]
    assert r1["diff"] is None and r1["remediation"] == []


def test_out_of_band_addition_is_drift_with_the_diff(net: SimNet) -> None:
    net.lab.edit("r2", add=["ip route 10.9.0.0/24 blackhole"])
    code, report = net.verify_json()
    assert code == 3
    assert states(report) == {"r1": "in-sync", "r2": "drift", "r3": "in-sync", "r4": "in-sync"}
    r2 = host(report, "r2")
    diff = str(r2["diff"])
    changed = [ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert changed == ["+ip route 10.9.0.0/24 blackhole"]
    assert diff.startswith(f"--- {net.release[:10]}:snapshots/r2.cfg\n+++ r2:running\n")
    assert r2["expected_digest"] != r2["running_digest"]
    commands = [(r["action"], r["command"]) for r in r2["remediation"]]
    assert commands == [("restore", "netimmutable rollback r2"), ("keep", "netimmutable show-running r2")]


def test_out_of_band_removal_is_drift(net: SimNet) -> None:
    net.lab.edit("r3", remove=["network 10.255.103.0/24"])
    code, report = net.verify_json()
    assert code == 3
    diff = str(host(report, "r3")["diff"])
    assert "-  network 10.255.103.0/24" in diff.splitlines()


def test_text_report_shows_diff_and_remediation(net: SimNet) -> None:
    net.lab.edit("r2", add=["ip route 10.9.0.0/24 blackhole"])
    result = net.verify()
    assert result.exit_code == 3
    out = result.stdout
    assert "r2  drift" in out
    assert "    +ip route 10.9.0.0/24 blackhole" in out
    assert "restore: netimmutable rollback r2" in out
    # keeping the change is a reviewed release, not `netimmutable adopt` (which refuses managed hosts)
    assert "keep:    netimmutable show-running r2" in out and "adopt:" not in out
    assert "exit 3 (drift or failed expectations)" in out


def test_volatile_noise_is_not_drift(net: SimNet) -> None:
    noisy = "Building configuration...\n\nCurrent configuration:\n!\n" + net.snapshot("r1").replace(
        "frr version 8.4.4", "frr version 9.1.2_git"
    ).replace("\n", "   \n!\n")
    net.lab.set_running("r1", noisy)
    assert net.lab.running("r1") != net.snapshot("r1")
    # config comparison only: the sim derives its state from its running text, and reads none from this one
    code, report = net.verify_json("--limit", "r1", "--no-expectations")
    assert code == 0
    assert states(report) == {"r1": "in-sync"}


def test_ignore_lines_from_settings(tmp_path: Path) -> None:
    settings = "version: 1\nignore_lines:\n  - '^ip route 10\\.9\\.'\n"
    net = make_sim_net(tmp_path / "net", settings=settings)
    net.lab.edit("r1", add=["ip route 10.9.0.0/24 blackhole"])
    net.lab.edit("r2", add=["ip route 10.8.0.0/24 blackhole"])
    code, report = net.verify_json()
    assert code == 3
    assert states(report)["r1"] == "in-sync"
    assert states(report)["r2"] == "drift"


def test_every_real_one_line_change_is_drift(net: SimNet) -> None:
    """Each meaningful line of r1's artifact, changed on the device, is reported as drift with that line."""
    repo = net.repo
    loaded = load_inventory(repo)
    hosts = select_hosts(loaded, ["r1"])
    snapshot = net.snapshot("r1")
    lines = snapshot.splitlines()
    meaningful = [i for i, line in enumerate(lines) if not is_ignored(line, "frr")]
    assert len(meaningful) > 20
    for index in meaningful:
        changed = [*lines[:index], lines[index] + "9", *lines[index + 1 :]]
        net.lab.set_running("r1", "\n".join(changed) + "\n")
        report = run_verify(repo, loaded, hosts, VerifyOptions(workers=1))
        (result,) = report.hosts
        assert result.state is HostState.DRIFT, lines[index]
        assert f"+{lines[index]}9" in result.diff.splitlines(), lines[index]
        assert f"-{lines[index]}" in result.diff.splitlines(), lines[index]


def test_broken_bgp_session_fails_expectations(net: SimNet) -> None:
    # r2 loses its neighbour r1 out of band: r2 drifts, r1's config is untouched but its session is down
    net.lab.edit("r2", remove=["neighbor 10.255.12.1 remote-as 65001"])
    code, report = net.verify_json("--expectations")
    assert code == 3
    assert states(report) == {"r1": "expectations-failed", "r2": "drift", "r3": "in-sync", "r4": "in-sync"}
    r1 = host(report, "r1")
    assert r1["expectations"] == "failed"
    failed = r1["failed_expectations"]
    assert failed and any("10.255.12.2" in item for item in failed)
    assert r1["diff"] is None
    # drift wins as r2's one state; its failed expectations are still reported
    assert host(report, "r2")["failed_expectations"]
    assert host(report, "r3")["expectations"] == "passed"


def test_expectations_are_evaluated_by_default(net: SimNet) -> None:
    """Issue 12: a scheduled verify without flags said "in-sync" for a host whose BGP session was down."""
    net.lab.edit("r2", remove=["neighbor 10.255.12.1 remote-as 65001"])
    code, report = net.verify_json()
    assert code == 3
    assert report["expectations"] is True
    assert states(report) == {"r1": "expectations-failed", "r2": "drift", "r3": "in-sync", "r4": "in-sync"}
    assert host(report, "r1")["expectations"] == "failed"
    assert host(report, "r3")["expectations"] == "passed"
    text = net.verify("--limit", "r1")
    assert text.exit_code == 3
    assert "expectations on" in text.stdout and "r1  expectations-failed" in text.stdout
    # the old flag (and its short form) is still accepted and means the same
    for flag in ("--expectations", "-e"):
        again_code, again = net.verify_json(flag)
        assert again_code == 3 and again["expectations"] is True
        assert states(again) == states(report)
        assert host(again, "r1")["failed_expectations"] == host(report, "r1")["failed_expectations"]


def test_no_expectations_skips_them(net: SimNet) -> None:
    net.lab.edit("r2", remove=["neighbor 10.255.12.1 remote-as 65001"])
    code, report = net.verify_json("--no-expectations")
    assert code == 3
    assert report["expectations"] is False
    assert states(report) == {"r1": "in-sync", "r2": "drift", "r3": "in-sync", "r4": "in-sync"}
    assert {h["expectations"] for h in report["hosts"]} == {"not-run"}
    assert "expectations off" in net.verify("--no-expectations", "--limit", "r1").stdout


def test_unreachable_is_not_drift_and_exits_1(net: SimNet) -> None:
    net.lab.set_knobs("r3", unreachable=True)
    code, report = net.verify_json()
    assert code == 1
    r3 = host(report, "r3")
    assert r3["state"] == "unreachable"
    assert r3["verdict"] == "error"
    assert "unreachable" in str(r3["message"])
    assert r3["diff"] is None and r3["running_digest"] is None


def test_unreachable_ok_flag_and_setting(tmp_path: Path) -> None:
    net = make_sim_net(tmp_path / "net")
    net.lab.set_knobs("r3", unreachable=True)
    code, report = net.verify_json("--unreachable-ok")
    assert code == 0
    assert host(report, "r3")["verdict"] == "skipped"
    assert report["policy"]["unreachable_is_failure"] is False
    relaxed = make_sim_net(
        tmp_path / "relaxed", settings="version: 1\nverify:\n  unreachable_is_failure: false\n"
    )
    relaxed.lab.set_knobs("r4", unreachable=True)
    assert relaxed.verify_json()[0] == 0
    assert relaxed.verify_json("--unreachable-fails")[0] == 1


def test_unreachable_ok_with_every_host_unreachable_is_not_in_sync(net: SimNet) -> None:
    """Issue 14 item 12: a run that could check no host printed "exit 0 (all in sync)"."""
    for name in ("r1", "r2", "r3", "r4"):
        net.lab.set_knobs(name, unreachable=True)
    result = net.verify("--unreachable-ok")
    assert result.exit_code == 1, result.output
    assert "all in sync" not in result.stdout and "no host could be checked" in result.stdout
    code, report = net.verify_json("--unreachable-ok")
    assert code == 1 and set(states(report).values()) == {"unreachable"}


def test_unreachable_ok_with_some_hosts_checked_says_how_many_were_not(net: SimNet) -> None:
    net.lab.set_knobs("r3", unreachable=True)
    result = net.verify("--unreachable-ok")
    assert result.exit_code == 0, result.output
    assert "all in sync" not in result.stdout
    assert "exit 0 (checked hosts in sync; 1 host(s) not checked)" in result.stdout


def test_drift_wins_over_unreachable(net: SimNet) -> None:
    net.lab.set_knobs("r3", unreachable=True)
    net.lab.edit("r1", add=["ip route 10.9.0.0/24 blackhole"])
    code, report = net.verify_json()
    assert code == 3
    assert report["exit_code"] == 3
    assert report["summary"]["drift"] == 1 and report["summary"]["unreachable"] == 1


def test_no_baseline_for_hosts_never_deployed(tmp_path: Path) -> None:
    net = make_sim_net(tmp_path / "net", good=["r1", "r2", "r3"])
    code, report = net.verify_json()
    assert code == 1
    r4 = host(report, "r4")
    assert r4["state"] == "no-baseline"
    assert r4["release"] is None
    assert "never deployed" in str(r4["message"])
    assert [r["command"] for r in r4["remediation"]] == ["netimmutable deploy --limit r4"]
    code, report = net.verify_json("--allow-no-baseline")
    assert code == 0
    assert host(report, "r4")["verdict"] == "skipped"


def test_device_error_is_error_state(net: SimNet) -> None:
    net.lab.set_knobs(
        "r2", fail_step="get_config", fail_exception="CommandErrorException", fail_message="boom"
    )
    code, report = net.verify_json()
    assert code == 1
    r2 = host(report, "r2")
    assert r2["state"] == "error"
    assert "boom" in str(r2["message"])


def test_unexpected_exception_becomes_an_error_result(net: SimNet, monkeypatch: pytest.MonkeyPatch) -> None:
    real = verify_module._check

    def flaky(h: Any, baseline: verify_module.Baseline, ctx: Any) -> VerifiedHost:
        if baseline.host == "r2":
            raise RuntimeError("bug in a check")
        return real(h, baseline, ctx)

    monkeypatch.setattr(verify_module, "_check", flaky)
    code, report = net.verify_json()
    assert code == 1
    assert states(report) == {"r1": "in-sync", "r2": "error", "r3": "in-sync", "r4": "in-sync"}
    assert "RuntimeError: bug in a check" in str(host(report, "r2")["message"])


# ------------------------------------------------------------------------------------------------ --against
def _commit_changed_snapshot(net: SimNet, host_name: str, extra: str) -> str:
    path = net.root / "snapshots" / f"{host_name}.cfg"
    path.write_text(path.read_text().replace("!\nend\n", f"{extra}\n!\nend\n"))
    return commit_all(net.root, f"hand-made release for {host_name}")


def test_against_a_release(net: SimNet) -> None:
    new = _commit_changed_snapshot(net, "r1", "ip route 10.7.0.0/24 blackhole")
    code, report = net.verify_json("--against", "HEAD")
    assert code == 3
    assert report["against"] == "HEAD" and report["against_release"] == new
    r1 = host(report, "r1")
    assert r1["state"] == "drift" and r1["release"] == new and r1["baseline"] == "rev"
    assert "-ip route 10.7.0.0/24 blackhole" in str(r1["diff"]).splitlines()
    assert r1["remediation"][0]["command"] == f"netimmutable rollback r1 --to {new[:10]}"
    code, report = net.verify_json("--against", net.release)
    assert code == 0
    # the last-good baseline is unchanged by a new commit
    assert net.verify_json()[0] == 0


def test_against_a_release_without_the_host(net: SimNet) -> None:
    (net.root / "snapshots" / "r4.cfg").unlink()
    commit_all(net.root, "r4 gone")
    code, report = net.verify_json("--against", head(net.root))
    assert code == 1
    assert host(report, "r4")["state"] == "no-baseline"
    assert "has no snapshots/r4.cfg" in str(host(report, "r4")["message"])


def test_against_an_unknown_revision(net: SimNet) -> None:
    result = net.verify("--against", "no-such-rev")
    assert result.exit_code == 1
    assert "unknown revision 'no-such-rev'" in result.stderr


# ------------------------------------------------------------------------------------------------ secrets
def test_secrets_compared_resolved_and_shown_masked(net: SimNet, monkeypatch: pytest.MonkeyPatch) -> None:
    path = net.root / "snapshots" / "r1.cfg"
    path.write_text(
        path.read_text().replace(
            " neighbor 10.255.12.2 remote-as 65002\n",
            " neighbor 10.255.12.2 remote-as 65002\n neighbor 10.255.12.2 password <<secret:bgp/r1-r2>>\n",
        )
    )
    release = commit_all(net.root, "r1 with a BGP password")
    resolved = net.snapshot("r1").replace("<<secret:bgp/r1-r2>>", "Sup3r-s3cret")
    net.lab.set_running("r1", resolved)
    # no value for the secret: the host cannot be compared (error), and nothing leaks
    code, report = net.verify_json("--against", release, "--limit", "r1")
    assert code == 1
    assert host(report, "r1")["state"] == "error"
    assert "bgp/r1-r2" in str(host(report, "r1")["message"])
    monkeypatch.setenv("NETIMMUTABLE_SECRET_BGP_R1_R2", "Sup3r-s3cret")
    code, report = net.verify_json("--against", release, "--limit", "r1")
    assert code == 0, report
    # the device's password changes out of band: drift, with neither value shown anywhere
    net.lab.set_running("r1", resolved.replace("Sup3r-s3cret", "0ther-value"))
    for fmt in ("json", "junit", "text"):
        result = net.verify("--against", release, "--limit", "r1", "--format", fmt)
        assert result.exit_code == 3
        assert "Sup3r-s3cret" not in result.output and "0ther-value" not in result.output
    _, report = net.verify_json("--against", release, "--limit", "r1")
    diff = str(host(report, "r1")["diff"])
    assert "- neighbor 10.255.12.2 password <<secret:bgp/r1-r2>>" in diff
    assert "+ neighbor 10.255.12.2 password <<masked>>" in diff


# ------------------------------------------------------------------------------------------------ CLI
def test_limit_and_filter(net: SimNet) -> None:
    code, report = net.verify_json("--limit", "r1,r3")
    assert code == 0 and sorted(states(report)) == ["r1", "r3"]
    result = net.verify("--filter", "router_id=10.9.9.9")
    assert result.exit_code == 1
    assert "no hosts selected" in result.stderr


def test_quiet_prints_nothing_when_all_in_sync(net: SimNet) -> None:
    result = net.verify("--quiet")
    assert result.exit_code == 0
    assert result.stdout == ""
    net.lab.edit("r2", add=["ip route 10.9.0.0/24 blackhole"])
    result = net.verify("--quiet")
    assert result.exit_code == 3
    assert "r2  drift" in result.stdout
    assert not any(line.startswith(("r1 ", "r3 ", "r4 ")) for line in result.stdout.splitlines())


def test_several_outputs_in_one_run(net: SimNet, tmp_path: Path) -> None:
    net.lab.edit("r2", add=["ip route 10.9.0.0/24 blackhole"])
    json_path, xml_path = tmp_path / "verify.json", tmp_path / "verify.xml"
    result = net.verify("-o", str(json_path), "-o", str(xml_path))
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "4 host(s): 3 in-sync, 1 drift; exit 3" in result.stderr
    assert json.loads(json_path.read_text())["summary"]["drift"] == 1
    assert xml_path.read_text().startswith('<?xml version="1.0" encoding="utf-8"?>\n<testsuites')


def test_output_without_a_known_suffix_needs_a_format(net: SimNet, tmp_path: Path) -> None:
    result = net.verify("-o", str(tmp_path / "report.out"))
    assert result.exit_code == 2
    assert "--format" in result.output
    assert net.verify("-o", str(tmp_path / "report.out"), "--format", "junit").exit_code == 0
    assert (tmp_path / "report.out").read_text().startswith("<?xml")


def test_verify_state_file_for_status(net: SimNet) -> None:
    net.lab.edit("r2", add=["ip route 10.9.0.0/24 blackhole"])
    net.verify()
    state = read_verify_state(net.repo)
    assert {name: entry.state for name, entry in state.items()} == {
        "r1": "in-sync",
        "r2": "drift",
        "r3": "in-sync",
        "r4": "in-sync",
    }
    assert state["r2"].release == net.release
    assert state["r2"].when_utc.endswith("Z")
    raw = json.loads((net.root / ".netimmutable" / "verify-state.json").read_text())
    assert raw["hosts"]["r2"]["state"] == "drift"
    assert set(raw["hosts"]["r2"]) >= {"when_utc", "state", "release"}
    # a later run of one host updates that host only
    net.lab.set_knobs("r1", unreachable=True)
    net.verify("--limit", "r1")
    state = read_verify_state(net.repo)
    assert state["r1"].state == "unreachable"
    assert state["r2"].state == "drift"
    assert not list((net.root / ".netimmutable").glob(".verify-state.json.*"))


def test_show_running_masks_secrets(net: SimNet) -> None:
    net.lab.set_running("r1", net.snapshot("r1") + "line vty\n password hunter2\n")
    result = net.cli("show-running", "r1")
    assert result.exit_code == 0
    assert "hostname r1" in result.stdout
    assert "hunter2" not in result.stdout
    assert " password <<masked>>" in result.stdout
    normalized = net.cli("show-running", "r1", "--normalized").stdout
    assert "frr version" not in normalized and "frr version" in result.stdout


def test_progress_reports_every_host(net: SimNet) -> None:
    seen: list[str] = []
    repo = net.repo
    loaded = load_inventory(repo)
    report = run_verify(
        repo, loaded, loaded.hosts(), VerifyOptions(workers=4), progress=lambda r: seen.append(r.host)
    )
    assert sorted(seen) == HOSTS
    assert [h.host for h in report.hosts] == HOSTS


def test_verify_changes_nothing_on_devices(net: SimNet) -> None:
    before = {h: (net.lab.running(h), net.lab.startup(h)) for h in HOSTS}
    net.lab.edit("r2", add=["ip route 10.9.0.0/24 blackhole"])
    before["r2"] = (net.lab.running("r2"), net.lab.startup("r2"))
    net.verify("--expectations")
    assert {h: (net.lab.running(h), net.lab.startup(h)) for h in HOSTS} == before


def test_a_full_disk_costs_neither_the_report_nor_the_other_outputs(
    net: SimNet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from netimmutable import verify_state

    def full(path: Path, text: str, *, durable: bool = False) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(verify_state, "atomic_write_text", full)
    junit = tmp_path / "out" / "verify.xml"
    junit.parent.mkdir()

    result = net.verify("-o", str(junit), "-o", str(tmp_path / "gone" / "verify.json"))

    assert result.exit_code == 1, result.output
    assert "verify-state.json: No space left on device" in result.stderr
    assert f"could not be written to {tmp_path / 'gone' / 'verify.json'}" in result.stderr
    assert junit.read_text().startswith("<?xml")  # the output that could be written was
    assert not verify_state.state_path(net.repo).exists()  # nothing half-written
    assert result.stderr.rstrip().splitlines()[-1].startswith("exit 1:")  # the last word is the exit code
