"""The change window on simulated devices: each test injects one situation and asserts device state,
records, exit code and message."""

from __future__ import annotations

import threading
import time

import pytest

from netimmutable.deploy import _Window
from netimmutable.deploy_model import Phase
from netimmutable.errors import RepoError
from netimmutable.records import GOOD_LOG_REF, HostOutcome, Records
from tests.unit.records_fixtures import git

from .conftest import Net


def test_good_change_is_deployed_confirmed_and_recorded(net: Net) -> None:
    release = net.announce("r1", "10.255.111.0/24")

    report = net.deploy()

    assert report.exit_code == 0
    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED, r1
    assert "deployed and verified" in r1.message
    assert "+  network 10.255.111.0/24" in r1.device_diff
    assert {h.host: h.outcome for h in report.hosts if h.host != "r1"} == dict.fromkeys(
        ("r2", "r3", "r4"), HostOutcome.UNCHANGED
    )
    # device: on the new release, confirmed (startup saved), no pending commit; BGP sessions all up
    assert "network 10.255.111.0/24" in net.lab.running("r1")
    assert net.lab.startup("r1") == net.lab.running("r1")
    net.no_pending()
    assert net.established("r1") == {"10.255.12.2", "10.255.14.2"}
    assert net.bgp("r2")["10.255.12.1"]["address_family"]["ipv4"]["received_prefixes"] == 2
    # records: r1 good on the release, one run record saying so
    records = net.records()
    good = records.last_good("r1")
    assert good is not None and good.release == release and good.run_id == report.run_id
    run = records.runs(limit=1)[0]
    assert run.run_id == report.run_id and run.record_sha == report.record_sha
    host_record = run.host("r1")
    assert host_record is not None and host_record.outcome is HostOutcome.DEPLOYED
    assert host_record.pre_state_digest and host_record.post_state_digest
    assert host_record.rollback_target == net.first


def test_wrong_remote_as_is_rolled_back_automatically(net: Net) -> None:
    bad = net.wrong_remote_as("r2")

    report = net.deploy()

    assert report.exit_code == 4
    r2 = report.host("r2")
    assert r2 is not None and r2.outcome is HostOutcome.ROLLED_BACK, r2
    assert "get_bgp_neighbors.global.peers.10.255.12.1.is_up: expected True, got False" in r2.message
    assert f"rolled back to last-good release {net.first[:10]} and verified" in r2.message
    # the canary was the changed host, and the window stopped before anyone else
    assert report.stopped.startswith("the canary failed")
    assert [h.cause for h in report.hosts if h.host != "r2"] == ["not-attempted"] * 3
    # device: back on the last-good artifact, BGP re-established, no pending commit
    assert "neighbor 10.255.12.1 remote-as 65001" in net.lab.running("r2")
    assert net.lab.running("r2") == net.lab.startup("r2")
    assert net.established("r2") == {"10.255.12.1", "10.255.23.2"}
    assert net.established("r1") == {"10.255.12.2", "10.255.14.2"}
    net.no_pending()
    # records: still good on the first release; the run says rolled-back
    records = net.records()
    good = records.last_good("r2")
    assert good is not None and good.release == net.first
    run = records.runs(limit=1)[0]
    assert run.release == bad
    record = run.host("r2")
    assert record is not None and record.outcome is HostOutcome.ROLLED_BACK
    assert "remote-as 65009" in record.device_diff


def test_unknown_drift_refuses_that_host_and_shows_the_drift(net: Net) -> None:
    net.lab.edit("r3", add=["ip route 10.9.0.0/24 blackhole"])
    drifted = net.lab.running("r3")
    net.announce("r1", "10.255.111.0/24")

    report = net.deploy(canary="0")

    r3 = report.host("r3")
    assert r3 is not None and r3.outcome is HostOutcome.REFUSED and r3.cause == "drift"
    assert "unknown drift" in r3.message and "--force-drift" in r3.message
    assert "+ip route 10.9.0.0/24 blackhole" in r3.drift
    assert net.lab.running("r3") == drifted  # untouched
    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED
    assert report.exit_code == 1
    record = net.records().runs(limit=1)[0].host("r3")
    assert record is not None and record.outcome is HostOutcome.REFUSED

    forced = net.deploy(canary="0", force_drift=True, limit=("r3",))
    r3 = forced.host("r3")
    assert r3 is not None and r3.outcome is HostOutcome.DEPLOYED, r3
    assert "10.9.0.0/24" not in net.lab.running("r3")
    assert "--force-drift" in net.records().runs(limit=1)[0].flags


def test_canary_failure_stops_the_window_before_other_hosts_are_touched(net: Net) -> None:
    net.announce("r1", "10.255.111.0/24")
    net.wrong_remote_as("r2")
    r1_before = net.lab.running("r1")
    generations = {h: net.lab.state(h).generation for h in ("r1", "r3", "r4")}

    report = net.deploy(canary="r2")

    assert report.exit_code == 4
    assert report.stopped == "the canary failed: no other host was touched"
    assert {h: net.lab.state(h).generation for h in generations} == generations
    assert net.lab.running("r1") == r1_before
    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.SKIPPED and "not attempted" in r1.message
    touched = {e.host for e in net.events if e.host is not None}
    assert touched == {"r2"}
    assert net.records().last_good("r1").release == net.first  # type: ignore[union-attr]


def test_batches_run_in_order_canary_first(net: Net) -> None:
    release = net.change_all()

    report = net.deploy(canary="1", batch_size=2)

    assert report.exit_code == 0
    assert all(h.outcome is HostOutcome.DEPLOYED for h in report.hosts)
    window = [e.message for e in net.events if e.host is None and e.phase is Phase.WINDOW]
    # the example network is a ring r1-r2-r3-r4-r1: neighbours that both change never share a batch
    assert [m for m in window if m.startswith(("canary", "batch"))] == [
        "canary: r1",
        "batch 1: r2, r4",
        "batch 2: r3",
    ]
    first_r2 = next(i for i, e in enumerate(net.events) if e.host == "r2")
    r1_done = next(i for i, e in enumerate(net.events) if e.host == "r1" and e.phase is Phase.DONE)
    assert r1_done < first_r2
    for host in ("r1", "r2", "r3", "r4"):
        assert "timers 5 15" in net.lab.running(host)
        assert net.records().last_good(host).release == release  # type: ignore[union-attr]
    net.no_pending()


def test_failure_budget_stops_after_max_failures(net: Net) -> None:
    net.change_all()
    for host in ("r1", "r2"):
        net.lab.set_knobs(host, reject_pattern="timers 5 15")

    report = net.deploy(canary="0", batch_size=1, max_failures=2)

    outcomes = {h.host: (h.outcome, h.cause) for h in report.hosts}
    assert outcomes["r1"] == (HostOutcome.FAILED, "rejected")
    assert outcomes["r2"] == (HostOutcome.FAILED, "rejected")
    assert outcomes["r3"] == (HostOutcome.SKIPPED, "not-attempted")
    assert outcomes["r4"] == (HostOutcome.SKIPPED, "not-attempted")
    assert "Rejected by device policy" in report.host("r1").message  # type: ignore[union-attr]
    assert report.stopped.startswith("failure budget spent: 2 host(s) failed")
    assert report.exit_code == 1
    assert "timers 3 9" in net.lab.running("r3")

    net.lab.clear_knobs("r2")
    report = net.deploy(canary="0", batch_size=1, max_failures=2, on_failure="continue")
    assert [h.outcome for h in report.hosts] == [
        HostOutcome.FAILED,
        HostOutcome.DEPLOYED,
        HostOutcome.DEPLOYED,
        HostOutcome.DEPLOYED,
    ]
    assert report.stopped == ""


def test_rollback_all_returns_every_deployed_host(net: Net) -> None:
    net.change_all()
    net.lab.set_knobs("r3", reject_pattern="timers 5 15")

    report = net.deploy(canary="0", batch_size=2, on_failure="rollback-all", allow_adjacent=True)

    outcomes = {h.host: h.outcome for h in report.hosts}
    assert outcomes == {
        "r1": HostOutcome.ROLLED_BACK,
        "r2": HostOutcome.ROLLED_BACK,
        "r3": HostOutcome.FAILED,
        "r4": HostOutcome.ROLLED_BACK,  # same batch as r3: deployed, then returned
    }
    assert "rollback-all" in report.host("r1").message  # type: ignore[union-attr]
    assert report.exit_code == 4
    for host in ("r1", "r2", "r3", "r4"):
        assert net.lab.running(host) == net.artifact(net.first, host)
        assert net.records().last_good(host).release == net.first  # type: ignore[union-attr]
        assert len(net.established(host)) == 2
    net.no_pending()


def test_first_deployment_captures_the_running_config_as_rollback_target(fresh_net: Net) -> None:
    net = fresh_net
    assert net.records().last_good("r2") is None
    before = net.lab.running("r2")
    net.wrong_remote_as("r2")

    report = net.deploy()

    r2 = report.host("r2")
    assert r2 is not None and r2.outcome is HostOutcome.ROLLED_BACK
    assert "captured before the push" in (r2.rollback_target or "")
    assert net.lab.running("r2") == before
    records = net.records()
    assert records.captured_config("r2") == before  # stored with the run record (rollback/r2.cfg)
    assert records.runs(limit=1)[0].host("r2").rollback_target == "captured"  # type: ignore[union-attr]
    assert records.last_good("r2") is None

    good = net.announce("r1", "10.255.111.0/24")
    report = net.deploy(limit=("r1",))
    assert report.host("r1").outcome is HostOutcome.DEPLOYED  # type: ignore[union-attr]
    assert net.records().last_good("r1").release == good  # type: ignore[union-attr]


def test_rollback_command_pushes_a_given_release(net: Net) -> None:
    net.announce("r1", "10.255.111.0/24")
    assert net.deploy().exit_code == 0

    report = net.rollback(["r1"], to_rev=net.first)

    assert report.exit_code == 0
    assert report.host("r1").outcome is HostOutcome.DEPLOYED  # type: ignore[union-attr]
    assert net.lab.running("r1") == net.artifact(net.first, "r1")
    assert net.records().last_good("r1").release == net.first  # type: ignore[union-attr]
    assert net.records().runs(limit=1)[0].kind == "rollback"


def test_a_host_verified_but_not_recorded_good_makes_the_run_exit_1(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = net.announce("r1", "10.255.111.0/24")

    def refuse(self: Records, host: str, release_sha: str, run_id: str) -> None:
        raise RepoError("the records ref moved under us", host=host)

    monkeypatch.setattr(Records, "mark_good", refuse)
    report = net.deploy(limit=("r1",))

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED  # the device is on the release, verified
    assert "recording it as good failed: the records ref moved under us" in r1.message
    assert report.exit_code == 1  # ... but the run did not do all it must: a person looks
    assert "network 10.255.111.0/24" in net.lab.running("r1")
    net.no_pending()
    good = net.records().last_good("r1")
    assert good is not None and good.release == net.first and good.release != release


def _window(net: Net) -> _Window:
    repo = net.repo
    records = net.records()
    return _Window(repo, records.git, records, lambda event: None, "run-marks", defer_good=False)


def test_hosts_waiting_to_be_marked_good_are_written_as_one_group(net: Net) -> None:
    window = _window(net)
    log_before = int(git(net.root, "rev-list", "--count", GOOD_LOG_REF))
    errors: list[RepoError] = []

    def mark(host: str) -> None:
        try:
            window.mark_good(host, net.first)
        except RepoError as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=mark, args=(host,)) for host in ("r1", "r2", "r3", "r4")]
    with window.git_lock:  # another mark is being written: all four hosts queue up behind it
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(window._marks) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(window._marks) == 4
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert int(git(net.root, "rev-list", "--count", GOOD_LOG_REF)) == log_before + 1
    entries = net.records().last_good_many(["r1", "r2", "r3", "r4"])
    assert all(e is not None and e.run_id == "run-marks" for e in entries.values())


def test_a_failed_group_mark_falls_back_to_one_mark_per_host(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = net.announce("r1", "10.255.113.0/24")
    original = Records.mark_good_many

    def group_fails(self: Records, marks: list[tuple[str, str]], run_id: str) -> None:
        if len(marks) > 1:
            raise RepoError("the records ref moved under us")
        original(self, marks, run_id)

    def r2_fails(self: Records, host: str, release_sha: str, run_id: str) -> None:
        if host == "r2":
            raise RepoError("r2's good ref is locked", host=host)
        original(self, [(host, release_sha)], run_id)

    monkeypatch.setattr(Records, "mark_good_many", group_fails)
    monkeypatch.setattr(Records, "mark_good", r2_fails)
    window = _window(net)
    with window.git_lock:
        threads = [threading.Thread(target=window.mark_good, args=(h, release)) for h in ("r1", "r3")]
        failed: list[RepoError] = []

        def mark_r2() -> None:
            try:
                window.mark_good("r2", release)
            except RepoError as exc:
                failed.append(exc)

        threads.append(threading.Thread(target=mark_r2))
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(window._marks) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    for thread in threads:
        thread.join(10)
    assert [str(e.message) for e in failed] == ["r2's good ref is locked"]  # only r2's own error, in r2
    entries = net.records().last_good_many(["r1", "r2", "r3"])
    assert entries["r1"] is not None and entries["r1"].release == release
    assert entries["r3"] is not None and entries["r3"].release == release
    assert entries["r2"] is not None and entries["r2"].release == net.first  # not moved
