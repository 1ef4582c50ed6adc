"""The soak: post-checks must keep holding for a while after they first pass, before the confirm; and the
device-side revert timer must outlast settle time plus soak (issue 12: a change that broke BGP a few seconds
later was confirmed and recorded good)."""

from __future__ import annotations

import time

from netimmutable.deploy_model import Phase, ProgressEvent
from netimmutable.outcomes import HostOutcome

from .conftest import Net

SHUT_R1_ON_R2 = "router bgp 65002\n neighbor 10.255.12.1 shutdown"


def test_a_session_that_breaks_during_the_soak_is_rolled_back_not_confirmed(net: Net) -> None:
    net.announce("r1", "10.255.111.0/24")
    broke: list[float] = []

    def progress(event: ProgressEvent) -> None:
        net.events.append(event)
        if event.host == "r1" and "left" in event.message and not broke:
            # the checks held once; now the session breaks, as it would when the hold timer of a change
            # that cut the far end off runs out
            net.lab.edit("r2", add=[SHUT_R1_ON_R2])
            broke.append(time.monotonic())
        if event.host == "r1" and event.phase is Phase.ROLLBACK:
            net.lab.edit("r2", remove=["neighbor 10.255.12.1 shutdown"])  # undoing the change heals it

    report = net.deploy(canary="r1", limit=("r1",), soak=3.0, progress=progress)

    assert broke, [e.message for e in net.events]
    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.ROLLED_BACK, r1
    assert any("during the soak" in f for f in r1.failures), r1.failures
    assert "10.255.111.0/24" not in net.lab.running("r1")
    assert net.records().last_good("r1").release == net.first  # type: ignore[union-attr]
    assert report.exit_code == 4
    net.no_pending()


def test_checks_that_keep_holding_are_confirmed_after_the_soak(net: Net) -> None:
    release = net.announce("r1", "10.255.111.0/24")
    started: list[float] = []

    def progress(event: ProgressEvent) -> None:
        net.events.append(event)
        if event.host == "r1" and "left" in event.message and not started:
            started.append(time.monotonic())

    report = net.deploy(limit=("r1",), soak=2.0, progress=progress)
    done = time.monotonic()

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED, r1
    assert started and done - started[0] >= 2.0  # held the whole soak before the confirm
    assert "held 2s of soak" in r1.message
    assert net.records().last_good("r1").release == release  # type: ignore[union-attr]
    countdown = [e.message for e in net.events if e.host == "r1" and "left" in e.message]
    assert countdown and "2s left" in countdown[0], countdown


def test_auto_soak_is_the_largest_bgp_hold_time_plus_the_margin(net: Net) -> None:
    # the example network's sessions have a 9 s hold time (`timers 3 9`): auto soaks 11 s
    net.announce("r1", "10.255.111.0/24")
    report = net.deploy(limit=("r1",), soak="auto", revert_in=30)

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED, r1
    lines = [e.message for e in net.events if e.host == "r1" and e.phase is Phase.POSTCHECK]
    assert any("then soaking 11s" in m for m in lines), lines
    assert any("the largest BGP hold time, 9s, plus 2s" in m for m in lines), lines
    assert "held 11s of soak" in r1.message


def test_a_revert_timer_shorter_than_settle_plus_soak_is_refused_before_any_change(net: Net) -> None:
    net.announce("r1", "10.255.111.0/24")
    generation = net.lab.state("r1").generation

    result = net.cli("deploy", "--yes", "--limit", "r1", "--revert-in", "5", "--soak", "3")

    assert result.exit_code == 1, result.output
    assert "r1" in result.output and "--revert-in 7" in result.output  # 1.5 s settle + 3 s soak + 2 s
    assert net.lab.state("r1").generation == generation


def test_auto_soak_longer_than_the_revert_timer_refuses_the_host_untouched(net: Net) -> None:
    net.announce("r1", "10.255.111.0/24")
    generation = net.lab.state("r1").generation

    report = net.deploy(limit=("r1",), soak="auto", revert_in=10)  # 1.5 + 11 + 2 > 10

    r1 = report.host("r1")
    assert r1 is not None and r1.outcome is HostOutcome.REFUSED and r1.cause == "timer", r1
    assert "revert timer (10s)" in r1.message and "--revert-in 15" in r1.message
    assert net.lab.state("r1").generation == generation
    net.no_pending()


def test_a_revert_timer_shorter_than_any_auto_soak_can_be_is_refused_before_any_change(net: Net) -> None:
    """With `auto` the soak is at least its margin (no BGP): a timer below settle + that + the margin can
    never hold, whatever the device says, so the window is refused up front, not host by host."""
    net.announce("r1", "10.255.111.0/24")
    generation = net.lab.state("r1").generation

    result = net.cli("deploy", "--yes", "--limit", "r1", "--revert-in", "4", "--soak", "auto")

    assert result.exit_code == 1, result.output
    assert "r1" in result.output and "--revert-in 6" in result.output  # 1.5 s settle + 2 s + 2 s
    assert net.lab.state("r1").generation == generation


def test_hosts_with_nothing_to_change_are_verified_without_a_soak(net: Net) -> None:
    report = net.deploy(soak=30.0)  # the baseline is already deployed: every host unchanged

    assert {h.outcome for h in report.hosts} == {HostOutcome.UNCHANGED}, report.hosts
    assert not [e for e in net.events if "soaking" in e.message]
    assert report.seconds < 30  # nobody waited for a soak
