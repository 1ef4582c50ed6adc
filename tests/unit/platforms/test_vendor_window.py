"""The change window on every vendor platform: NAPALM's real drivers against the device doubles, the
multi-vendor example as the network (``tests.unit.platforms.vendor_net``).

Every scenario checks the device out of band (through the double), the exit code, the records and the host
named in the output.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from netimmutable.drivers.capabilities import capability
from tests.cli_process import read_until
from tests.unit.platforms.vendor_net import PLATFORMS, VendorNet, vendor_net

TIMER_PLATFORMS = tuple(p for p in PLATFORMS if capability(p).revert_timer)
"""The platforms whose commit waits for a confirm on a device-side timer (the capability table)."""


@pytest.fixture(params=PLATFORMS)
def net(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VendorNet]:
    with vendor_net(tmp_path, request.param) as built:
        yield built


@pytest.fixture(params=TIMER_PLATFORMS)
def timer_net(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VendorNet]:
    with vendor_net(tmp_path, request.param) as built:
        yield built


def killed_after_commit(net: VendorNet) -> None:
    """A deploy of a release that breaks the BGP session, killed (SIGKILL) while its post-checks wait: the
    commit is on the device, pending its confirm."""
    net.release_bad_change()
    proc = net.spawn("deploy", "--yes", "--limit", net.host, "--settle-timeout", "30")
    read_until(proc, f"{net.host}: post-check")  # journaled and committed
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert net.double.has_pending(), "the killed deploy left no pending commit"
    assert "65099" in net.on_device()


def test_a_good_release_is_deployed_and_becomes_last_good(net: VendorNet) -> None:
    new = net.release_good_change()

    result = net.deploy()

    assert result.exit_code == 0, result.output
    assert net.host in result.output
    assert net.on_device() == net.intent(new)
    assert "to hub r1" in net.on_device()
    assert net.last_good() == new
    assert not net.double.has_pending()


def test_a_release_that_breaks_the_bgp_session_is_rolled_back(net: VendorNet) -> None:
    before = net.on_device()
    net.release_bad_change()

    result = net.deploy()

    assert result.exit_code == 4, result.output
    assert f"{net.host}: rolled-back" in result.output or "rolled-back" in result.output
    assert net.host in result.output
    assert net.on_device() == before == net.intent(net.first)
    assert net.last_good() == net.first
    assert not net.double.has_pending()


def test_verify_is_in_sync_then_names_the_host_that_drifted(net: VendorNet) -> None:
    clean = net.cli("verify", "--limit", net.host)
    assert clean.exit_code == 0, clean.output

    net.drift()
    drifted = net.cli("verify", "--limit", net.host)

    assert drifted.exit_code == 3, drifted.output
    assert net.host in drifted.output
    assert "drift" in drifted.output.lower()


def test_timer_platforms_are_the_ones_the_table_says() -> None:
    assert TIMER_PLATFORMS == ("eos", "junos", "ios")


def test_the_device_timer_fires_after_a_kill_and_recover_reports_the_device_reverted(
    timer_net: VendorNet,
) -> None:
    net = timer_net
    killed_after_commit(net)

    net.double.fire_timer()  # the device's own commit-confirm timer expires: nobody confirmed
    assert "65099" not in net.on_device()
    result = net.cli("recover")

    assert result.exit_code == 0, result.output
    assert net.host in result.output and "reverted" in result.output
    assert net.on_device() == net.intent(net.first)
    assert not net.double.has_pending()
    assert net.last_good() == net.first


def test_recover_before_the_timer_rolls_the_pending_commit_back(timer_net: VendorNet) -> None:
    net = timer_net
    killed_after_commit(net)

    result = net.cli("recover")

    assert result.exit_code == 4, result.output
    assert net.host in result.output and "rolled-back" in result.output
    assert net.on_device() == net.intent(net.first)
    assert not net.double.has_pending(), "recover left the dead run's commit pending"
    assert net.last_good() == net.first
    assert net.deploy().exit_code == 4  # nothing left unfinished: the bad release fails again, rolled back
