"""The revert timer and the checks on the real FRR lab (issue 12, item 4: timers that agree).

Measured before: `deploy --revert-in 15` with a 60 s settle timeout gave no warning; the router reverted at
15 s, the checks kept polling for 60 s, the message did not say the timer fired, and the host was recorded
`rolled-back`, never `reverted`.
"""

from __future__ import annotations

import signal
import time

import pytest

from netimmutable.locks import list_locks
from netimmutable.records import HostOutcome
from netimmutable.repo import open_repo
from tests.cli_process import read_until, spawn_cli
from tests.unit.netrepo_helpers import run_cli

from .conftest import FrrNet

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("frr-lab")]


def _announce(frr_net: FrrNet, prefix: str) -> str:
    frr_net.edit_hosts(r"announce: \[([^\]]*)\]", rf"announce: [\1, {prefix}]", "r1")
    frr_net.edit_hosts(r"(static_routes:\n)", rf"\1      - {{prefix: {prefix}, nexthop: blackhole}}\n", "r1")
    return frr_net.commit(f"r1: announce {prefix}")


def test_a_revert_timer_shorter_than_the_checks_is_refused_before_the_router_is_touched(
    frr_net: FrrNet,
) -> None:
    _announce(frr_net, "10.255.113.0/24")
    r1 = frr_net.router("r1")
    before = r1.running()

    result = run_cli(
        [
            "deploy",
            "--yes",
            "--limit",
            "r1",
            "--revert-in",
            "15",
            "--settle-timeout",
            "60",
            "--repo",
            str(frr_net.root),
        ]
    )

    assert result.exit_code == 1, result.output
    assert "r1" in result.output and "--revert-in" in result.output  # says the timer it needs
    assert r1.running() == before
    assert frr_net.records().last_good("r1").release == frr_net.first  # type: ignore[union-attr]


def test_when_the_routers_timer_fires_first_the_host_ends_reverted_and_the_message_says_so(
    frr_net: FrrNet,
) -> None:
    """The deploy process is stopped (a suspended laptop, a paused VM) during the soak for longer than the
    revert timer: the router's own timer puts the old config back. Once resumed, the checks must notice at
    once, prove the router back on its last-good release, and say the timer did it."""
    _announce(frr_net, "10.255.114.0/24")
    r1 = frr_net.router("r1")
    before = r1.running()
    proc = spawn_cli(
        "deploy", "--yes", "--limit", "r1", "--repo", str(frr_net.root),
        "--revert-in", "20", "--settle-timeout", "5", "--soak", "12",
    )  # fmt: skip
    seen = read_until(proc, "soaking before the confirm")
    proc.send_signal(signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 40
        while r1.running() != before and time.monotonic() < deadline:  # the router's timer fires
            time.sleep(1.0)
        assert r1.running() == before, "the router's revert timer did not fire"
    finally:
        proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    text = seen + err + out

    assert proc.returncode == 4, text
    assert "revert timer" in text and "fired" in text
    run = frr_net.records().runs(limit=1)[0]
    assert run.host("r1").outcome is HostOutcome.REVERTED, text  # type: ignore[union-attr]
    assert r1.running() == before
    assert frr_net.records().last_good("r1").release == frr_net.first  # type: ignore[union-attr]
    assert list_locks(open_repo(frr_net.root)) == []
