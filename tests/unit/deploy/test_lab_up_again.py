"""`lab up` on a lab that is up touches nothing; `--rebuild` replaces it, never while a run is in flight."""

from __future__ import annotations

from netimmutable.journal import Journal
from netimmutable.locks import device_lock

from .conftest import Net

ROUTE = "ip route 10.7.0.0/24 blackhole"


def test_lab_up_on_a_lab_that_is_up_says_so_and_touches_nothing(net: Net) -> None:
    # the device state a run relies on (here a change made by hand): rebuilt away silently before
    net.lab.edit("r1", add=[ROUTE])
    good_before = net.records().last_good("r1")

    result = net.cli("lab", "up", "--sim")

    assert result.exit_code == 0, result.output
    assert "already up" in result.stderr and "--rebuild" in result.stderr
    assert ROUTE in net.lab.running("r1")
    assert net.records().last_good("r1") == good_before
    status = net.cli("lab", "up", "--sim", "--format", "json")
    assert status.exit_code == 0 and '"already_up": true' in status.stdout


def test_rebuild_is_refused_while_a_device_lock_is_held_then_rebuilds(net: Net) -> None:
    net.lab.edit("r1", add=[ROUTE])
    with device_lock(net.repo, "r2", "run-elsewhere"):
        refused = net.cli("lab", "up", "--sim", "--rebuild")
        assert refused.exit_code == 1, refused.output
        assert "device-r2" in refused.stderr
        assert ROUTE in net.lab.running("r1")  # nothing was touched

    rebuilt = net.cli("lab", "up", "--sim", "--rebuild")

    assert rebuilt.exit_code == 0, rebuilt.output
    assert ROUTE not in net.lab.running("r1")  # every device back on its committed snapshot
    assert net.lab.running("r1") == (net.root / "snapshots" / "r1.cfg").read_text()


def test_rebuild_is_refused_while_a_run_is_in_progress(net: Net) -> None:
    net.lab.edit("r1", add=[ROUTE])
    journal = Journal.open(net.repo, "run-in-progress", release=net.first)  # this process: alive
    try:
        journal.before("r1", "commit")
        refused = net.cli("lab", "up", "--sim", "--rebuild")
    finally:
        journal.close()
    assert refused.exit_code == 1, refused.output
    assert "run-in-progress" in refused.stderr and "in progress" in refused.stderr
    assert ROUTE in net.lab.running("r1")
