"""Failure modes of the change window on simulated devices: lost connections, unreachable devices, no
device-side timer, Ctrl-C, a plan that no longer holds."""

from __future__ import annotations

import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest

from netimmutable.deploy_model import Phase, ProgressEvent
from netimmutable.drivers import capabilities
from netimmutable.locks import locks_dir
from netimmutable.records import HostOutcome
from tests.cli_process import read_until, spawn_cli

from .conftest import Net


def test_hosts_without_device_side_timer_are_announced_and_still_rolled_back(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        capabilities.CAPABILITIES, "sim", replace(capabilities.CAPABILITIES["sim"], revert_timer=False)
    )
    net.wrong_remote_as("r2")

    report = net.deploy()

    assert report.no_timer_hosts == ("r1", "r2", "r3", "r4")
    first_host_event = next(i for i, e in enumerate(net.events) if e.host is not None)
    warning = next(i for i, e in enumerate(net.events) if "no device-side revert timer" in e.message)
    assert warning < first_host_event
    assert "r1, r2, r3, r4" in net.events[warning].message
    commit = next(e for e in net.events if e.host == "r2" and e.phase is Phase.COMMIT)
    assert "no device timer" in commit.message
    r2 = report.host("r2")
    assert r2 is not None and r2.outcome is HostOutcome.ROLLED_BACK
    assert report.exit_code == 4
    assert "remote-as 65001" in net.lab.running("r2")
    net.no_pending()


def test_connection_lost_after_commit_reconnects_and_rolls_back(net: Net) -> None:
    net.announce("r1", "10.255.111.0/24")
    net.lab.set_knobs("r1", drop_after_commit=True)

    report = net.deploy()

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.ROLLED_BACK, r1
    assert "connection" in r1.message
    assert net.lab.running("r1") == net.artifact(net.first, "r1")
    net.no_pending()
    assert report.exit_code == 4


def test_unreachable_host_fails_before_change(net: Net) -> None:
    net.announce("r3", "10.255.113.0/24")
    net.lab.set_knobs("r3", unreachable=True)

    report = net.deploy(canary="0")

    r3 = report.host("r3")
    assert r3 is not None and r3.outcome is HostOutcome.UNREACHABLE and r3.cause == "unreachable"
    assert "unreachable" in r3.message
    assert report.exit_code == 1
    record = net.records().runs(limit=1)[0].host("r3")
    assert record is not None and record.outcome is HostOutcome.UNREACHABLE


def test_pending_commit_of_someone_else_refuses_the_host(net: Net) -> None:
    from netimmutable.drivers.sim import SimDriver

    other = SimDriver("r4", optional_args={"lab_dir": str(net.lab.root)})
    other.open()
    other.load_replace_candidate(config=net.lab.running("r4") + "ip route 10.8.0.0/24 blackhole\n")
    other.commit_config(revert_in=300)
    other.close()

    report = net.deploy(limit=("r4",), force_drift=True)

    r4 = report.host("r4")
    assert r4 is not None and r4.outcome is HostOutcome.REFUSED and r4.cause == "pending-commit"
    assert net.lab.has_pending("r4")  # not ours: left alone


def test_ctrl_c_after_commit_rolls_back_at_once_and_stops_the_window(net: Net) -> None:
    net.wrong_remote_as("r1", peer="10.255.12.2", wrong=65099)

    def progress(event: ProgressEvent) -> None:
        if event.host == "r1" and event.phase is Phase.POSTCHECK:
            raise KeyboardInterrupt

    started = time.monotonic()
    report = net.deploy(progress=progress, settle_timeout=30)

    assert time.monotonic() - started < 10  # did not wait for the 30 s settle time
    assert report.interrupted
    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.ROLLED_BACK, r1
    assert any("interrupted (Ctrl-C)" in f for f in r1.failures)
    assert [h.cause for h in report.hosts[1:]] == ["interrupted"] * 3
    assert "remote-as 65002" in net.lab.running("r1")
    net.no_pending()
    assert report.exit_code == 4
    assert net.records().runs(limit=1)[0].run_id == report.run_id


def test_ctrl_c_before_commit_leaves_the_device_untouched(net: Net) -> None:
    net.announce("r1", "10.255.111.0/24")
    generation = net.lab.state("r1").generation

    def progress(event: ProgressEvent) -> None:
        if event.host == "r1" and event.phase is Phase.LOAD:
            raise KeyboardInterrupt

    report = net.deploy(progress=progress)

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.SKIPPED and r1.cause == "interrupted"
    assert net.lab.state("r1").generation == generation
    assert report.exit_code == 1
    net.no_pending()


def test_sigint_to_a_running_deploy_rolls_back_and_leaves_no_pending_commit(net: Net) -> None:
    net.wrong_remote_as("r2")
    proc = spawn_cli("deploy", "--yes", "--repo", str(net.root), "--settle-timeout", "30")
    seen = read_until(proc, "r2: post-check")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    text = seen + err

    assert proc.returncode == 4, text + out
    assert "interrupted (Ctrl-C)" in text
    assert "rolled-back" in out
    assert "remote-as 65001" in net.lab.running("r2")
    net.no_pending()
    assert not list(locks_dir(net.repo).glob("*.lock"))


def test_plan_refuses_a_host_that_changed_since_the_plan(net: Net, tmp_path: Path) -> None:
    net.announce("r1", "10.255.111.0/24")
    plan = tmp_path / "plan.json"
    result = net.cli("plan", "--save", str(plan))
    assert result.exit_code == 3, result.output
    net.lab.edit("r1", add=["ip route 10.7.0.0/24 blackhole"])

    report = net.deploy(plan_file=str(plan), force_drift=True)

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.REFUSED and r1.cause == "plan", r1
    assert "changed since the plan" in r1.message
    assert "10.7.0.0/24" in net.lab.running("r1")
    assert report.exit_code == 1
    assert f"--plan={plan}" in net.records().runs(limit=1)[0].flags


def test_ctrl_c_while_the_run_record_is_written_does_not_lose_it(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window is over, the record and the journal's close are being written: a Ctrl-C then must not
    abort them (the hosts' outcomes are final), and must not turn the run into an interrupted one."""
    import os

    from netimmutable import deploy as deploy_module

    net.announce("r1", "10.255.112.0/24")
    original = deploy_module._write_record

    def write_record(*args: object, **kwargs: object) -> object:
        os.kill(os.getpid(), signal.SIGINT)  # the terminal's Ctrl-C arrives now
        time.sleep(0.05)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(deploy_module, "_write_record", write_record)

    report = net.deploy(limit=("r1",))

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED, r1
    assert report.record_sha and not report.record_error
    assert net.records().runs(limit=1)[0].run_id == report.run_id
    assert not report.interrupted and report.exit_code == 0


def test_a_second_ctrl_c_abandons_the_rollbacks_verification_and_keeps_the_host_for_recover(net: Net) -> None:
    import os

    net.wrong_remote_as("r1", peer="10.255.12.2", wrong=65099)

    def progress(event: ProgressEvent) -> None:
        if event.host == "r1" and event.phase is Phase.POSTCHECK:
            # the far end drops its side too (out of band): the rollback cannot verify within the settle time
            net.lab.edit("r2", remove=["neighbor 10.255.12.1 remote-as 65001"])
        if event.host == "r1" and event.phase in (Phase.POSTCHECK, Phase.VERIFY_ROLLBACK):
            os.kill(os.getpid(), signal.SIGINT)  # the terminal's Ctrl-C: once in the checks, again in the
            time.sleep(0.05)  # rollback's own verification

    started = time.monotonic()
    report = net.deploy(limit=("r1",), progress=progress, settle_timeout=30)

    assert time.monotonic() - started < 20  # the second Ctrl-C did not wait out the 30 s settle time

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.ROLLBACK_FAILED, r1
    assert report.interrupted and report.exit_code == 5
    assert "remote-as 65002" in net.lab.running("r1")  # the rollback itself was done; only its proof is not
    assert "recover" in r1.message
    from netimmutable.locks import list_locks

    assert [held.path.name for held in list_locks(net.repo)] == ["device-r1.lock"]  # kept for `recover`


def test_ctrl_c_while_the_locks_are_released_does_not_leave_them(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from netimmutable import locks as locks_module
    from netimmutable.locks import list_locks

    net.announce("r1", "10.255.113.0/24")
    original = locks_module.Lock.release

    def release(self: locks_module.Lock) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # the terminal's Ctrl-C arrives as the run lets go of r1
        time.sleep(0.05)
        original(self)

    monkeypatch.setattr(locks_module.Lock, "release", release)

    report = net.deploy(limit=("r1",))

    monkeypatch.undo()
    assert report.host("r1").outcome is HostOutcome.DEPLOYED  # type: ignore[union-attr]
    assert list_locks(net.repo) == []  # every lock released, none left behind by the Ctrl-C
