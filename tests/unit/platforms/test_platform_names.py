"""Inventory platforms named the netutils way (``arista_eos``, ``juniper_junos``...) open NAPALM's driver
and get that platform's capabilities: checked against the doubles, through NAPALM's real drivers."""

from __future__ import annotations

from nornir.core.inventory import Host

from netimmutable.connections import driver_name
from netimmutable.device import Device
from tests.contract import with_line
from tests.doubles.eos import start_eos
from tests.doubles.junos import start_junos, strip_header
from tests.unit.platforms.device_hosts import host_for


def test_driver_name_maps_netutils_names_and_keeps_napalm_and_own_names() -> None:
    names = (
        "cisco_ios",
        "cisco_xe",
        "arista_eos",
        "juniper_junos",
        "cisco_nxos",
        "iosxr_netconf",
        "frr",
        "sim",
    )
    assert [driver_name(Host("h", platform=p)) for p in names] == [
        "ios",
        "ios",
        "eos",
        "junos",
        "nxos",
        "iosxr_netconf",
        "frr",
        "sim",
    ]


def test_arista_eos_opens_the_eos_driver_with_its_revert_timer() -> None:
    """The default capability of an unknown platform has no revert timer: a pending commit on the device
    proves the host got eos' capability, and the session eos' driver."""
    with start_eos("r1") as dev:
        with Device.open(host_for(dev, "arista_eos"), attempts=1) as device:
            assert device.driver_name == "eos"
            device.load_replace(with_line(dev.baseline, "ip route 10.254.254.0/24 Null0"))
            device.commit("netimmutable deploy", revert_in=3600)
            assert dev.has_pending()
            device.rollback_driver()
        assert dev.running() == dev.baseline


def test_juniper_junos_commits_with_the_message_as_its_commit_comment() -> None:
    with start_junos() as dev, Device.open(host_for(dev, "juniper_junos"), attempts=1) as device:
        device.load_replace(strip_header(dev.running()).replace("host-name r1;", "host-name r1-new;"))
        device.commit("netimmutable deploy abc123", None)
        assert dev.commit_log(0) == "netimmutable deploy abc123"
        assert "host-name r1-new;" in dev.running()
