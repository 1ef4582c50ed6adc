"""A pending commit this run did not make is never confirmed, cancelled or rolled back (issue 13 item 8)."""

from __future__ import annotations

from typing import Any

import pytest

from netimmutable import device as device_module
from netimmutable.drivers.sim import SimDriver
from netimmutable.outcomes import HostOutcome
from tests.unit.deploy.conftest import Net

__all__: list[str] = []

THEIR_ROUTE = "ip route 10.77.0.0/16 blackhole"


def _their_commit(net: Net, host: str) -> None:
    """Another session commits on ``host`` with commit-confirm (and does not confirm yet)."""
    driver = SimDriver(host, optional_args={"lab_dir": str(net.lab.root)})
    driver.open()
    try:
        running = net.lab.running(host)
        driver.load_replace_candidate(config=running.replace("\nend\n", f"\n{THEIR_ROUTE}\nend\n"))
        driver.commit_config(message="someone else", revert_in=600)
    finally:
        driver.close()


def test_a_commit_of_another_session_between_precheck_and_commit_is_left_alone(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    net.announce("r1", "10.255.240.0/24")
    original = device_module.Device.commit
    raced: list[str] = []

    def commit(self: device_module.Device, message: str, revert_in: int | None) -> None:
        if not raced:  # right after our pre-checks saw no pending commit
            raced.append("r1")
            _their_commit(net, "r1")
        original(self, message, revert_in)

    monkeypatch.setattr(device_module.Device, "commit", commit)

    report = net.deploy(limit=("r1",))

    [r1] = report.hosts
    assert r1.outcome is HostOutcome.FAILED, r1
    assert r1.cause == "pending-commit"
    assert "another session" in r1.message
    assert report.exit_code == 1
    assert net.lab.has_pending("r1")  # their commit is still pending, not cancelled
    assert THEIR_ROUTE in net.lab.running("r1")
    assert "10.255.240.0/24" not in net.lab.running("r1")
    assert net.records().last_good("r1").release == net.first  # type: ignore[union-attr]


def test_a_pending_commit_before_the_change_is_refused_untouched(net: Net) -> None:
    net.announce("r1", "10.255.241.0/24")
    _their_commit(net, "r1")
    before: dict[str, Any] = {"running": net.lab.running("r1")}

    report = net.deploy(limit=("r1",))

    [r1] = report.hosts
    assert r1.outcome is HostOutcome.REFUSED and r1.cause == "pending-commit"
    assert net.lab.has_pending("r1") and net.lab.running("r1") == before["running"]
