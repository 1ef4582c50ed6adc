"""Fault injection on simulated devices, for the failure modes of issue 6 §6 the change-window tests
(tests/unit/deploy) do not already cover. Each test injects one fault and asserts what must hold afterwards:
device state, records, exit code and message.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import pytest

from netimmutable import device as device_module
from netimmutable.connections import prepare_hosts
from netimmutable.deploy_model import Phase, ProgressEvent
from netimmutable.device import Device, backoff_delay
from netimmutable.drivers.sim import SimDriver
from netimmutable.errors import ConnectError, CredentialsError, DeviceError
from netimmutable.inventory import load_inventory
from netimmutable.locks import locks_dir
from netimmutable.records import HostOutcome

from .conftest import Net

ANNOUNCE = "10.255.111.0/24"


def _no_locks(net: Net) -> None:
    assert not list(locks_dir(net.repo).glob("*.lock"))


def _last_run_outcome(net: Net, host: str) -> HostOutcome:
    record = net.records().runs(limit=1)[0].host(host)
    assert record is not None
    return record.outcome


def _good(net: Net, host: str) -> str:
    good = net.records().last_good(host)
    assert good is not None
    return good.release


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Backoff waits of Device.open, recorded (attempt numbers) instead of slept."""
    seen: list[int] = []

    def fake(attempt: int, base: float, jitter: float | None = None) -> float:
        seen.append(attempt)
        return 0.0

    monkeypatch.setattr(device_module, "backoff_delay", fake)
    return seen


# ------------------------------------------------------------------------ session limits, slow AAA
def test_session_limit_at_login_is_retried_without_a_false_failure(net: Net, waits: list[int]) -> None:
    release = net.announce("r1", ANNOUNCE)
    net.lab.set_knobs(
        "r1",
        fail_step="open",
        fail_exception="ConnectionException",
        fail_message="r1: % session limit reached (vty 0-4 busy)",
        fail_times=2,
    )

    report = net.deploy(limit=("r1",))

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED, r1
    assert waits == [1, 2]  # two refused logins, each followed by a backoff wait
    assert report.exit_code == 0
    assert f"network {ANNOUNCE}" in net.lab.running("r1")
    assert _good(net, "r1") == release
    assert _last_run_outcome(net, "r1") is HostOutcome.DEPLOYED
    net.no_pending()
    _no_locks(net)


def test_unreachable_device_is_still_unreachable_after_the_retries(net: Net, waits: list[int]) -> None:
    net.announce("r3", "10.255.113.0/24")
    net.lab.set_knobs("r3", unreachable=True)
    generation = net.lab.state("r3").generation

    report = net.deploy(limit=("r3",))

    r3 = report.host("r3")
    assert r3 is not None and r3.outcome is HostOutcome.UNREACHABLE and r3.cause == "unreachable"
    assert "unreachable" in r3.message and "after 3 attempts" in r3.message
    assert waits == [1, 2]
    assert report.exit_code == 1
    assert net.lab.state("r3").generation == generation
    assert _good(net, "r3") == net.first
    assert _last_run_outcome(net, "r3") is HostOutcome.UNREACHABLE
    _no_locks(net)


def test_only_connection_failures_are_retried(net: Net, waits: list[int]) -> None:
    host = load_inventory(net.repo).inventory.hosts["r2"]
    prepare_hosts(net.repo, [host])

    # a device error that is not a connection failure: at once
    net.lab.set_knobs("r2", fail_step="open", fail_exception="CommandErrorException", fail_times=1)
    with pytest.raises(DeviceError) as caught:
        Device.open(host)
    assert not isinstance(caught.value, ConnectError) and waits == []
    with Device.open(host) as dev:  # the fault was spent on one attempt: the next open works
        assert "hostname r2" in dev.running_config()

    # no credentials for a platform that needs them: at once
    host.connection_options["napalm"].platform = "eos"
    with pytest.raises(CredentialsError):
        Device.open(host)
    assert waits == []


def test_backoff_doubles_with_jitter() -> None:
    assert [backoff_delay(n, 0.5, jitter=1.0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    for attempt in (1, 2, 3):
        full = 0.5 * 2 ** (attempt - 1)
        assert all(full / 2 <= backoff_delay(attempt, 0.5) <= full for _ in range(50))


# ------------------------------------------------------------------------ connection lost mid-change
@pytest.mark.parametrize("step", ["load", "compare", "commit"])
def test_connection_lost_during_load_compare_or_commit_leaves_the_device_unchanged(
    net: Net, step: str
) -> None:
    net.announce("r1", ANNOUNCE)
    before = net.lab.state("r1")
    net.lab.set_knobs(
        "r1",
        fail_step=step,
        fail_exception="ConnectionClosedException",
        fail_message="r1: connection closed by remote host",
        fail_times=1,
    )

    report = net.deploy(limit=("r1",))

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.UNREACHABLE and r1.cause == "unreachable", r1
    assert r1.message.startswith("connection lost"), r1.message  # not "refused": the device refused nothing
    assert "connection closed by remote host" in r1.message
    assert not r1.changed
    after = net.lab.state("r1")
    assert after.running == before.running == net.artifact(net.first, "r1")
    assert after.generation == before.generation  # nothing was committed, not even and then undone
    assert report.exit_code == 1
    assert _last_run_outcome(net, "r1") is HostOutcome.UNREACHABLE
    assert _good(net, "r1") == net.first
    net.no_pending()
    _no_locks(net)


# ------------------------------------------------------------------------ the device refuses the config
def test_rejected_config_router_unchanged_device_error_verbatim_nothing_left_open(net: Net) -> None:
    net.announce("r2", "10.255.112.0/24")
    before = net.lab.state("r2")
    net.lab.set_knobs("r2", reject_pattern=r"network 10\.255\.112\.0/24")

    report = net.deploy(limit=("r2",))

    r2 = report.host("r2")
    assert r2 is not None and r2.outcome is HostOutcome.FAILED and r2.cause == "rejected"
    assert "% Rejected by device policy: network 10.255.112.0/24" in r2.message  # the device's own words
    assert net.lab.state("r2").generation == before.generation
    assert net.lab.running("r2") == before.running
    assert report.exit_code == 1
    assert _last_run_outcome(net, "r2") is HostOutcome.FAILED
    assert _good(net, "r2") == net.first
    net.no_pending()
    _no_locks(net)
    # no candidate left behind: a fresh session commits nothing
    driver = SimDriver("r2", optional_args={"lab_dir": str(net.lab.root)})
    driver.open()
    try:
        assert driver.compare_config() == ""
    finally:
        driver.close()


# ------------------------------------------------------------------------ commit-confirm deadline missed
def _shift_clock_at(
    phase: Phase, host: str, seconds: float, monkeypatch: pytest.MonkeyPatch
) -> Callable[[ProgressEvent], None]:
    """A progress callback that moves the wall clock (``time.time``, the simulated devices' clock too) by
    ``seconds`` when ``host`` reaches ``phase``; monotonic time is left alone."""
    real = time.time

    def progress(event: ProgressEvent) -> None:
        if event.host == host and event.phase is phase:
            monkeypatch.setattr(time, "time", lambda: real() + seconds)

    return progress


@pytest.mark.parametrize(
    ("phase", "when"),
    [
        (Phase.POSTCHECK, "while the post-checks ran"),  # the revert lands while the checks run
        (Phase.CONFIRM, "before the confirm"),  # checks passed, the deadline passed just before the confirm
    ],
)
def test_revert_timer_firing_before_the_confirm_is_reverted_not_recorded_good(
    net: Net, monkeypatch: pytest.MonkeyPatch, phase: Phase, when: str
) -> None:
    release = net.announce("r1", ANNOUNCE)
    # the device's revert deadline (revert_in 60 s) passes at that point
    progress = _shift_clock_at(phase, "r1", 3600, monkeypatch)

    report = net.deploy(limit=("r1",), progress=progress)

    r1 = report.host("r1")
    # the device did it: the host ends REVERTED, the message says the timer fired and when
    assert r1 is not None and r1.outcome is HostOutcome.REVERTED and r1.cause == "revert-timer", r1
    assert r1.message.startswith(f"the device's revert timer (60s) fired {when}"), r1.message
    assert f"back on last-good release {net.first[:10]} and verified" in r1.message
    assert r1.changed
    assert net.lab.running("r1") == net.artifact(net.first, "r1")  # the revert put the last-good back
    assert [e.kind for e in net.lab.state("r1").history[-2:]] == ["commit", "revert"]  # nothing pushed again
    assert _good(net, "r1") == net.first != release  # never recorded good
    assert _last_run_outcome(net, "r1") is HostOutcome.REVERTED
    assert report.exit_code == 4
    net.no_pending()
    _no_locks(net)


# ------------------------------------------------------------------------ rollback target
def test_rollback_goes_to_the_last_good_artifact_not_to_what_driver_rollback_restores(net: Net) -> None:
    # someone commits on the device by hand: the device's own "previous config" is no longer last-good
    other = SimDriver("r2", optional_args={"lab_dir": str(net.lab.root)})
    other.open()
    other.load_replace_candidate(config=net.lab.running("r2") + "ip route 10.8.0.0/24 blackhole\n")
    other.commit_config()
    other.close()
    hand_made = net.lab.running("r2")
    net.wrong_remote_as("r2")

    # pushed over that drift on purpose; the release is bad, so it is rolled back: driver rollback()
    # restores the hand-made config, netimmutable must then replace it with the last-good artifact
    report = net.deploy(limit=("r2",), force_drift=True)

    r2 = report.host("r2")
    assert r2 is not None and r2.outcome is HostOutcome.ROLLED_BACK, r2
    assert f"last-good release {net.first[:10]}" in r2.message
    assert net.lab.running("r2") == net.artifact(net.first, "r2") != hand_made
    assert "10.8.0.0/24" not in net.lab.running("r2")
    assert _good(net, "r2") == net.first
    assert _last_run_outcome(net, "r2") is HostOutcome.ROLLED_BACK
    assert report.exit_code == 4
    net.no_pending()


def test_rollback_without_a_device_timer_ignores_the_devices_previous_commit(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two commits since the last-good: a good release, then a bad one, no device-side timer; the device's
    # rollback() would restore the good release's config, the last-good record says the first release
    second = net.announce("r1", ANNOUNCE)
    report = net.deploy(limit=("r1",), revert_in=0)
    assert report.exit_code == 0 and _good(net, "r1") == second
    net.records().mark_good("r1", net.first, "test-pretend-only-the-first-was-verified")
    net.lab.set_running("r1", net.artifact(net.first, "r1"))  # device and record agree again: first
    other = SimDriver("r1", optional_args={"lab_dir": str(net.lab.root)})
    other.open()
    other.load_replace_candidate(config=net.artifact(second, "r1"))
    other.commit_config()  # device history: first -> second (its "previous" is first)
    other.load_replace_candidate(config=net.artifact(net.first, "r1"))
    other.commit_config()  # ... -> first again (its "previous" is now second)
    other.close()
    net.wrong_remote_as("r1", peer="10.255.12.2", wrong=65099)

    report = net.deploy(limit=("r1",), revert_in=0)

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.ROLLED_BACK, r1
    assert net.lab.running("r1") == net.artifact(net.first, "r1")
    assert f"network {ANNOUNCE}" not in net.lab.running("r1")
    assert _good(net, "r1") == net.first
    assert report.exit_code == 4
    net.no_pending()


# ------------------------------------------------------------------------ clock skew
def test_wall_clock_jumping_back_mid_run_does_not_stretch_the_settle_deadline(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    net.wrong_remote_as("r2")
    # one day back right after the commit: a settle deadline on the wall clock would wait a day
    progress = _shift_clock_at(Phase.POSTCHECK, "r2", -86400, monkeypatch)

    report = net.deploy(limit=("r2",), progress=progress, settle_timeout=1.0)

    r2 = report.host("r2")
    assert r2 is not None and r2.outcome is HostOutcome.ROLLED_BACK, r2
    assert "post-check failed" in r2.message
    assert net.lab.running("r2") == net.artifact(net.first, "r2")
    assert report.exit_code == 4
    net.no_pending()


def test_records_are_utc_whatever_the_local_time_zone(net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a local time would be off by half a day
    time.tzset()
    try:
        release = net.announce("r1", ANNOUNCE)
        before = dt.datetime.now(dt.UTC).replace(microsecond=0)
        report = net.deploy(limit=("r1",))
        after = dt.datetime.now(dt.UTC)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()

    assert report.exit_code == 0
    run = net.records().runs(limit=1)[0]
    good = net.records().last_good("r1")
    assert good is not None and good.release == release
    for stamp in (run.started_utc, run.ended_utc, good.when_utc):
        assert stamp.endswith("Z"), stamp
        parsed = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        assert before <= parsed <= after
    assert run.run_id.startswith(before.strftime("%Y%m%dT"))
