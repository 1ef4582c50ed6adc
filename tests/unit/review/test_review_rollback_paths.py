"""Review findings on the one rollback procedure and recover (issue 12), on scripted devices: each test
fails on the code the review read and states what must hold for the network."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from netimmutable.artifacts import open_git
from netimmutable.deploy_model import HostJob
from netimmutable.errors import Unsupported
from netimmutable.inventory import load_inventory
from netimmutable.journal import Journal, journal_path
from netimmutable.locks import list_locks
from netimmutable.outcomes import HostOutcome
from netimmutable.push import run_host
from netimmutable.records import Records
from netimmutable.recover import VerifyRequest, VerifyResult, recover
from tests.unit.records_fixtures import GOOD_CHANGE, Net, make_net, release
from tests.unit.scripted_device import NEW, OLD, ScriptedDevice, env


class NoConfirmDevice(ScriptedDevice):
    """A platform without commit-confirm (NX-OS, IOS-XR in NAPALM): ``has_pending_commit`` is not implemented,
    a commit takes effect at once. The new release takes the BGP session down."""

    platform = "nxos"

    def peer_up(self) -> bool:
        return self.running == OLD

    def bgp_neighbors_detail(self) -> dict[str, Any]:
        raise Unsupported("get_bgp_neighbors_detail: not supported by this driver", host="r1")

    def confirm(self) -> None:
        raise Unsupported("confirm_commit: not supported by this driver", host="r1")

    def has_pending_commit(self) -> bool:
        raise Unsupported("has_pending_commit: not supported by this driver", host="r1")

    def rollback_driver(self) -> None:
        raise Unsupported("rollback: not supported by this driver", host="r1")


def test_a_platform_without_commit_confirm_is_rolled_back_by_full_replace() -> None:
    device = NoConfirmDevice()
    job = HostJob("r1", "nxos", "new", NEW, None, False, "old", OLD)

    result = run_host(job, env(device))

    assert result.outcome is HostOutcome.ROLLED_BACK, result
    assert device.running == OLD  # the bad release is off the device
    assert device.calls.count("commit") == 2  # the change, then the full replace with the last-good


# ----------------------------------------------------------------------------------------------- recover
class RecoverDevice:
    """What recover sees of a device: running config, one pending commit, and what it was asked to do."""

    name = "r1"
    platform = "frr"

    def __init__(self, running: str, pending: bool) -> None:
        self.running = running
        self.pending = pending
        self.calls: list[str] = []

    def running_config(self) -> str:
        return self.running

    def has_pending_commit(self) -> bool:
        return self.pending

    def confirm(self) -> None:  # Junos: `commit` with nothing pending succeeds, so confirming can "work"
        self.calls.append("confirm")
        self.pending = False

    def rollback_driver(self) -> None:
        self.calls.append("rollback")

    def load_replace(self, config: str) -> None:
        self.calls.append("load")

    def discard(self) -> None:
        self.calls.append("discard")

    def commit(self, message: str, revert_in: int | None) -> None:
        self.calls.append("commit")

    def close(self) -> None:
        self.calls.append("close")


def _dead_run(net: Net, new: str, steps: list[tuple[str, dict[str, Any], str | None]]) -> None:
    """The journal of a run that died (its process is gone) after ``steps`` (step, details, after outcome)."""
    journal = Journal.open(net.repo, "run-dead", release=new)
    for step, details, outcome in steps:
        journal.before("r1", step, release=new, **details)  # type: ignore[arg-type]
        if outcome is not None:
            journal.after("r1", step, outcome)  # type: ignore[arg-type]
    journal.abandon()
    path = journal_path(net.repo, "run-dead")
    lines = path.read_text().splitlines()
    head = json.loads(lines[0])
    head["pid"] = 2**30  # no such process: the run is dead
    path.write_text("\n".join([json.dumps(head), *lines[1:]]) + "\n")


def _recover(net: Net, device: RecoverDevice, verifier: Any = None) -> Any:
    return recover(
        net.repo,
        open_git(net.repo),
        load_inventory(net.repo),
        verifier=verifier or (lambda _request: VerifyResult(True)),
        open_device=lambda _host: device,
    )


def _good(net: Net) -> str | None:
    good = Records(net.repo, open_git(net.repo)).last_good("r1")
    return None if good is None else good.release


def test_a_journaled_rollback_without_a_known_target_is_never_confirmed(tmp_path: Path) -> None:
    # a host whose rollback target the journal does not name: the run had decided to roll back
    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    _dead_run(net, new, [("load", {}, "ok"), ("commit", {"revert_in": 60}, "ok"), ("rollback", {}, None)])
    device = RecoverDevice(Records(net.repo, open_git(net.repo)).artifact(new, "r1"), pending=True)

    report = _recover(net, device)

    [host] = report.hosts
    assert host.outcome is HostOutcome.UNKNOWN, host
    assert "confirm" not in device.calls and _good(net) != new
    assert report.exit_code == 5 and len(list_locks(net.repo)) == 1  # left to a person, lock kept


def test_recover_never_confirms_after_the_timer_fired_during_its_checks(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    records = Records(net.repo, open_git(net.repo))
    records.mark_good("r1", net.first, "run-before")
    _dead_run(net, new, [("commit", {"revert_in": 600, "rollback_release": net.first, "soak": 30.0}, "ok")])
    device = RecoverDevice(records.artifact(new, "r1"), pending=True)
    old = records.artifact(net.first, "r1")
    asked: list[VerifyRequest] = []

    def verifier(request: VerifyRequest) -> VerifyResult:
        asked.append(request)
        if request.label == "artifact":  # the device's timer fires while the release is being soaked
            device.running, device.pending = old, False
        return VerifyResult(True)

    report = _recover(net, device, verifier)

    [host] = report.hosts
    assert host.outcome is HostOutcome.REVERTED, host
    assert (
        "confirm" not in device.calls and _good(net) == net.first
    )  # never recorded good on a config it lost
    assert asked[0].still_pending is not None  # the checks watch the timer


def test_recover_does_not_race_a_revert_timer_that_is_about_to_fire(tmp_path: Path) -> None:
    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    records = Records(net.repo, open_git(net.repo))
    records.mark_good("r1", net.first, "run-before")
    from netimmutable.utctime import utc_text

    due = utc_text(time.time() + 3)  # about to fire: no time left to check and confirm
    details = {"revert_in": 60, "rollback_release": net.first, "revert_deadline_utc": due}
    _dead_run(net, new, [("commit", details, "ok")])
    device = RecoverDevice(records.artifact(new, "r1"), pending=True)

    report = _recover(net, device)

    [host] = report.hosts
    assert host.outcome is HostOutcome.ROLLED_BACK and "revert timer is due" in host.message, host
    assert "confirm" not in device.calls and "rollback" in device.calls  # our pending commit cancelled
    assert _good(net) == net.first


def test_recover_leaves_a_commit_of_another_session_alone(tmp_path: Path) -> None:
    # the run's rollback found someone else's commit pending and stopped there (rollback-failed)
    net = make_net(tmp_path)
    new = release(net.root, "r1 description", GOOD_CHANGE)
    Records(net.repo, open_git(net.repo)).mark_good("r1", net.first, "run-before")
    _dead_run(
        net,
        new,
        [
            ("commit", {"rollback_release": net.first}, "ok"),
            ("rollback", {"rollback_release": net.first}, "pending commit of another session"),
        ],
    )
    device = RecoverDevice("hostname r1\n! someone else's pending change\n", pending=True)

    report = _recover(net, device)

    [host] = report.hosts
    # left for a person, as every commit of another session is (unknown, lock and journal kept)
    assert host.outcome is HostOutcome.UNKNOWN and "another session" in host.message, host
    assert host.cause == "pending-commit"
    assert not {"rollback", "load", "commit", "confirm"} & set(device.calls), device.calls
    assert device.pending and report.exit_code == 5


# ------------------------------------------------------------------------------------ deploy and its timer
class TimerDevice(NoConfirmDevice):
    """A device with commit-confirm (Junos-like: a confirm with nothing pending is a plain commit, and
    succeeds). ``on_confirm`` runs first: a test's revert timer firing just then. ``hold_after`` is the BGP
    hold time the device reports once the new release runs."""

    platform = "junos"

    def __init__(self, hold_after: int = 9) -> None:
        super().__init__()
        self.pending = False
        self.before_commit = OLD
        self.hold_after = hold_after
        self.on_confirm = lambda: None

    def peer_up(self) -> bool:
        return True

    def bgp_neighbors_detail(self) -> dict[str, Any]:
        hold = self.hold_after if self.running == NEW else 9
        return {"global": {65002: [{"holdtime": hold, "configured_holdtime": hold}]}}

    def commit(self, message: str, revert_in: int | None) -> None:
        self.before_commit = self.running
        super().commit(message, revert_in)
        self.pending = revert_in is not None

    def has_pending_commit(self) -> bool:
        return self.pending

    def confirm(self) -> None:
        self.on_confirm()
        self.calls.append("confirm")
        self.pending = False

    def rollback_driver(self) -> None:
        self.calls.append("rollback")
        self.running, self.pending = self.before_commit, False


def test_a_revert_that_lands_just_before_a_confirm_that_succeeds_is_caught() -> None:
    device = TimerDevice()

    def revert() -> None:  # the timer fires between our last look and the confirm
        device.running, device.pending = OLD, False

    device.on_confirm = revert
    marked: list[str] = []
    job = HostJob("r1", "junos", "new", NEW, None, False, "old", OLD, revert_in=60)

    result = run_host(job, env(device, marked))

    assert result.outcome is HostOutcome.REVERTED and result.cause == "revert-timer", result
    assert "just before the confirm" in result.message
    assert marked == [] and device.running == OLD  # never recorded good on a config it does not run


def test_a_soak_the_new_release_lengthens_past_the_revert_timer_rolls_back_at_once() -> None:
    device = TimerDevice(hold_after=180)  # the release drops `timers 3 9`: sessions fall back to 180 s
    marked: list[str] = []
    job = HostJob("r1", "junos", "new", NEW, None, False, "old", OLD, revert_in=30)

    result = run_host(job, env(device, marked, soak="auto"))

    assert result.outcome is HostOutcome.ROLLED_BACK and result.cause == "timer", result
    assert "--revert-in 184" in result.message  # 0 s settle + 182 s soak + 2 s
    assert marked == [] and device.running == OLD and not device.pending
    assert "confirm" not in device.calls


class StillPendingDevice(ScriptedDevice):
    """A commit is pending on the device (its own timer is the device's business)."""

    def has_pending_commit(self) -> bool:
        return True


def _cleanup_after(seconds_since_commit: float, fence: str = "") -> list[str]:
    from netimmutable.push import _HostRun

    device = StillPendingDevice()
    job = HostJob("r1", "frr", "new", NEW, None, False, "old", OLD, revert_in=60)
    run = _HostRun(job, env(device, fence=lambda _host: fence))
    run.device, run.pending = device, True
    run.committed_at = time.monotonic() - seconds_since_commit
    run.cleanup()
    return [*device.calls, *run.notes]


def test_cleanup_cancels_our_pending_commit_while_its_timer_runs() -> None:
    calls = _cleanup_after(5)
    assert "rollback" in calls


def test_cleanup_long_after_our_revert_timer_was_due_leaves_a_pending_commit_alone() -> None:
    """Our timer has fired by then (the device reverted our change); what is pending is another session's."""
    calls = _cleanup_after(60 + 600)
    assert "rollback" not in calls
    assert any("another session" in c for c in calls)


class TimerBeforeRollbackDevice(ScriptedDevice):
    """Junos-like: commit-confirm; the new release takes the BGP session down, and the device's revert timer
    fires right after the post-checks' last look (still pending then), before the rollback begins."""

    platform = "junos"

    def __init__(self) -> None:
        super().__init__()
        self.pending = False
        self.asks_after_failure = 0

    def commit(self, message: str, revert_in: int | None) -> None:
        super().commit(message, revert_in)
        self.pending = revert_in is not None

    def peer_up(self) -> bool:
        return self.running == OLD

    def bgp_neighbors_detail(self) -> dict[str, Any]:
        return {"global": {65002: [{"holdtime": 9, "configured_holdtime": 9}]}}

    def has_pending_commit(self) -> bool:
        if self.pending and not self.peer_up():
            self.asks_after_failure += 1
            if self.asks_after_failure > 1:  # the timer fires: the device puts the old config back itself
                self.running, self.pending = OLD, False
        return self.pending

    def confirm(self) -> None:
        self.calls.append("confirm")
        self.pending = False

    def rollback_driver(self) -> None:
        self.calls.append("rollback")
        self.running, self.pending = OLD, False


def test_a_revert_timer_that_fires_before_the_rollback_is_reported_reverted() -> None:
    device = TimerBeforeRollbackDevice()
    job = HostJob("r1", "junos", "new", NEW, None, False, "old", OLD, revert_in=60)

    result = run_host(job, env(device, soak=0.0))

    assert result.outcome is HostOutcome.REVERTED, result
    assert result.cause == "revert-timer"
    assert "revert timer" in result.message
    assert device.running == OLD
    assert "rollback" not in device.calls and device.calls.count("commit") == 1  # the device did it


class NoHoldTimesDevice(ScriptedDevice):
    """A driver whose get_bgp_neighbors_detail fails on this device (a parse error inside the driver)."""

    def bgp_neighbors_detail(self) -> dict[str, Any]:
        from netimmutable.errors import DeviceError

        raise DeviceError("get_bgp_neighbors_detail: ValueError: could not parse the output", host="r1")


def test_hold_times_a_driver_cannot_read_mean_the_long_default_soak_not_an_unreachable_host() -> None:
    device = NoHoldTimesDevice()
    job = HostJob("r1", "frr", "new", NEW, None, False, "old", OLD, revert_in=60)

    result = run_host(job, env(device, soak="auto"))

    # 182 s of soak cannot fit in a 60 s revert timer: refused before any change, never "unreachable"
    assert (result.outcome, result.cause) == (HostOutcome.REFUSED, "timer"), result
    assert "commit" not in device.calls and device.running == OLD


def test_cleanup_never_cancels_a_pending_commit_once_the_lease_is_lost() -> None:
    """Another clone's recover holds the device now (review finding 4): our cleanup leaves the commit."""
    calls = _cleanup_after(5, fence="lease lost to run x of b@box on origin")
    assert "rollback" not in calls
    assert any("lease lost" in c for c in calls)
