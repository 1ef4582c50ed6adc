"""The change window on the real FRR lab (routers in network namespaces, over SSH).

Each test gets its own network repository (git) whose first release is what the lab's routers run, and a
first deploy that records every router good on it; routers are reset to that release afterwards.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from netimmutable.locks import list_locks
from netimmutable.records import HostOutcome
from netimmutable.repo import open_repo
from tests.cli_process import read_until, spawn_cli

from .conftest import FrrNet, FrrRouter, record_timing

# one lab per machine: every real-router test runs in the same xdist worker, one after another
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("frr-lab")]


def _wait_established(router: FrrRouter, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while (count := router.established()) < router.bgp_peers and time.monotonic() < deadline:
        time.sleep(0.5)
    return count


def test_good_change_deployed_verified_confirmed(frr_net: FrrNet) -> None:
    frr_net.edit_hosts(r"announce: \[([^\]]*)\]", r"announce: [\1, 10.255.111.0/24]", "r1")
    frr_net.edit_hosts(
        r"(static_routes:\n)", r"\1      - {prefix: 10.255.111.0/24, nexthop: blackhole}\n", "r1"
    )
    release = frr_net.commit("r1: announce 10.255.111.0/24")

    started = time.monotonic()
    report = frr_net.deploy()
    record_timing("deploy_frr_good_change_4_hosts", time.monotonic() - started)

    assert report.exit_code == 0, [(h.host, h.outcome, h.message) for h in report.hosts]
    assert report.host("r1").outcome is HostOutcome.DEPLOYED  # type: ignore[union-attr]
    r1 = frr_net.router("r1")
    assert "network 10.255.111.0/24" in r1.running()
    assert "network 10.255.111.0/24" in r1.startup()  # confirmed: saved
    assert r1.established() == r1.bgp_peers
    assert frr_net.records().last_good("r1").release == release  # type: ignore[union-attr]
    run = frr_net.records().runs(limit=1)[0]
    assert run.host("r1").outcome is HostOutcome.DEPLOYED  # type: ignore[union-attr]


def test_wrong_remote_as_detected_and_rolled_back(frr_net: FrrNet) -> None:
    frr_net.edit_hosts(r"(\{address: 10\.255\.12\.1, remote_as: )\d+", r"\g<1>65009", "r2")
    bad = frr_net.commit("r2: wrong remote-as for r1")

    started = time.monotonic()
    report = frr_net.deploy()
    record_timing("deploy_frr_bad_change_rollback", time.monotonic() - started)

    assert report.exit_code == 4
    r2_result = report.host("r2")
    assert r2_result is not None and r2_result.outcome is HostOutcome.ROLLED_BACK, r2_result
    assert "10.255.12.1" in r2_result.message and "rolled back to last-good" in r2_result.message
    r2 = frr_net.router("r2")
    assert r2.running() == r2.baseline
    assert _wait_established(r2) == r2.bgp_peers  # BGP re-established
    assert _wait_established(frr_net.router("r1")) == frr_net.router("r1").bgp_peers
    assert frr_net.records().last_good("r2").release == frr_net.first  # type: ignore[union-attr]
    run = frr_net.records().runs(limit=1)[0]
    assert run.release == bad
    assert run.host("r2").outcome is HostOutcome.ROLLED_BACK  # type: ignore[union-attr]


def test_unknown_drift_refuses_the_host(frr_net: FrrNet) -> None:
    r3 = frr_net.router("r3")
    r3.oob_edit(["ip route 10.9.0.0/24 blackhole"])
    frr_net.edit_hosts(r"announce: \[([^\]]*)\]", r"announce: [\1, 10.255.113.0/24]", "r3")
    frr_net.commit("r3: announce 10.255.113.0/24")

    report = frr_net.deploy(canary="0")

    result = report.host("r3")
    assert result is not None and result.outcome is HostOutcome.REFUSED and result.cause == "drift"
    assert "+ip route 10.9.0.0/24 blackhole" in result.drift
    assert "ip route 10.9.0.0/24 blackhole" in r3.running()
    assert "10.255.113.0/24" not in r3.running()
    assert report.exit_code == 1


def test_canary_failure_stops_the_window(frr_net: FrrNet) -> None:
    frr_net.edit_hosts(r"(\{address: 10\.255\.12\.1, remote_as: )\d+", r"\g<1>65009", "r2")
    frr_net.edit_hosts(r"announce: \[([^\]]*)\]", r"announce: [\1, 10.255.111.0/24]", "r1")
    frr_net.commit("r1 good, r2 bad")
    r1_before = frr_net.router("r1").running()

    report = frr_net.deploy(canary="r2")

    assert report.exit_code == 4
    assert report.stopped.startswith("the canary failed")
    assert frr_net.router("r1").running() == r1_before
    assert report.host("r1").cause == "not-attempted"  # type: ignore[union-attr]
    assert frr_net.router("r2").running() == frr_net.router("r2").baseline


def test_ctrl_c_on_a_terminal_during_post_checks_rolls_back_verified_and_writes_the_record(
    frr_net: FrrNet,
) -> None:
    """Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group, git children included.

    Measured before (issue 12): the git children died with it, so the run record was lost ("other writers
    kept moving it"), and the first Ctrl-C also cut the rollback's own verification short, so a rollback
    that worked (BGP back a few seconds later) was reported failed, exit 5.
    """
    frr_net.edit_hosts(r"(\{address: 10\.255\.12\.1, remote_as: )\d+", r"\g<1>65009", "r2")
    bad = frr_net.commit("r2: wrong remote-as for r1")
    runs_before = len(frr_net.records().runs(limit=100))
    # its own process group, as a shell gives a foreground job: killpg is what the terminal does
    proc = spawn_cli("deploy", "--yes", "--limit", "r2", "--repo", str(frr_net.root), new_session=True)
    seen = read_until(proc, "r2: post-check")
    time.sleep(1.0)  # the bad release is on r2 and its session to r1 is down
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    text = seen + err + out

    assert proc.returncode == 4, text  # rolled back, and the rollback verified
    assert "interrupted (Ctrl-C)" in text
    r2 = frr_net.router("r2")
    assert r2.running() == r2.baseline
    assert _wait_established(r2) == r2.bgp_peers
    runs = frr_net.records().runs(limit=100)
    assert len(runs) == runs_before + 1, text  # the run record was written
    assert runs[0].release == bad
    assert runs[0].host("r2").outcome is HostOutcome.ROLLED_BACK  # type: ignore[union-attr]
    assert frr_net.records().last_good("r2").release == frr_net.first  # type: ignore[union-attr]
    assert list_locks(open_repo(frr_net.root)) == []


def test_a_change_that_breaks_bgp_only_after_the_hold_time_is_rolled_back_not_confirmed(
    frr_net: FrrNet,
) -> None:
    """Issue 12, measured: r2's eth1 moves to 10.255.12.6/30 (r1 stays .1/30). The session to r1 stays
    Established until its 9 s hold timer runs out; the checks passed at once, so the change was confirmed and
    recorded good. With the soak (auto: hold time 9 s + 2 s) the checks see it go down and roll back."""
    frr_net.edit_hosts(r"address: 10\.255\.12\.2/30", "address: 10.255.12.6/30", "r2")
    frr_net.commit("r2: eth1 10.255.12.6/30 (breaks the session to r1)")

    report = frr_net.deploy(limit=("r2",))

    r2_result = report.host("r2")
    assert report.exit_code == 4, [(h.host, h.outcome, h.message) for h in report.hosts]
    assert r2_result is not None and r2_result.outcome is HostOutcome.ROLLED_BACK, r2_result
    assert any("during the soak" in f for f in r2_result.failures), r2_result.failures
    r2 = frr_net.router("r2")
    assert r2.running() == r2.baseline
    assert _wait_established(r2) == r2.bgp_peers
    assert frr_net.records().last_good("r2").release == frr_net.first  # type: ignore[union-attr]


def test_a_host_is_not_rolled_back_for_prefixes_another_host_of_its_batch_took(frr_net: FrrNet) -> None:
    """Issue 12 item 6 on real routers: r1 (a harmless description) and r3 (a wrong AS for both its peers)
    change in one batch; they share no link, so the batching rule lets them. r3's sessions drop and r1
    loses most of the prefixes it learns through r2 and r4 (r3 announces four). r1 waits for r3 to be
    rolled back, checks again and is deployed; r3 is rolled back."""
    extra = ("10.255.133.0/24", "10.255.134.0/24", "10.255.135.0/24")
    for prefix in extra:
        frr_net.edit_hosts(r"announce: \[([^\]]*)\]", rf"announce: [\1, {prefix}]", "r3")
        frr_net.edit_hosts(
            r"(static_routes:\n)", rf"\1      - {{prefix: {prefix}, nexthop: blackhole}}\n", "r3"
        )
    frr_net.commit("r3 announces three more prefixes")
    assert frr_net.deploy(limit=("r3",), soak=0.0).exit_code == 0
    frr_net.edit_hosts("description: to r2, peer: r2", "description: to r2 link, peer: r2", "r1")
    frr_net.edit_hosts(r"(\{address: 10\.255\.23\.1, remote_as: )\d+", r"\g<1>65009", "r3")
    frr_net.edit_hosts(r"(\{address: 10\.255\.34\.2, remote_as: )\d+", r"\g<1>65009", "r3")
    release = frr_net.commit("r1 description, r3 wrong AS")

    # a soak long enough for r3's sessions to drop while r1 is still being checked
    report = frr_net.deploy(canary="0", batch_size=4, on_failure="continue", settle_timeout=6.0, soak=6.0)

    r1, r3 = report.host("r1"), report.host("r3")
    assert r3 is not None and r3.outcome is HostOutcome.ROLLED_BACK, r3
    assert r1 is not None and r1.outcome is HostOutcome.DEPLOYED, (r1.message, r1.failures, r1.notes)
    assert any("r3 changed too; checked again once they had ended: held" in n for n in r1.notes), r1.notes
    assert frr_net.records().last_good("r1").release == release  # type: ignore[union-attr]
    assert _wait_established(frr_net.router("r1")) == frr_net.router("r1").bgp_peers
