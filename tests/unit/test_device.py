"""The device boundary: sessions through nornir_napalm, and compliance reports from getters in hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from nornir.core.inventory import ConnectionOptions, Host

from netimmutable.device import Device
from netimmutable.drivers.sim.lab import SimLab
from tests.unit.drivers.example_network import frr_config

EXPECT_R1_PEER_UP = """\
- get_bgp_neighbors:
    global:
      peers:
        10.255.12.2:
          is_up: true
- get_facts:
    hostname: r1
"""


def _device(tmp_path: Path) -> Device:
    lab = SimLab(tmp_path / "lab")
    for name in ("r1", "r2"):
        lab.create(name, frr_config(name))
    entry = lab.connection_entry("r1")
    host = Host(name="r1", hostname="r1", platform="frr")
    host.connection_options["napalm"] = ConnectionOptions(
        platform="sim", extras={"optional_args": entry["optional_args"]}
    )
    return Device.open(host)


def test_compliance_answers_from_the_device(tmp_path: Path) -> None:
    with _device(tmp_path) as dev:
        report = dev.compliance(EXPECT_R1_PEER_UP)
    assert report["complies"] is True


def test_compliance_uses_known_getter_results_and_asks_the_device_for_the_rest(tmp_path: Path) -> None:
    with _device(tmp_path) as dev:
        bgp = dev.bgp_neighbors()
        bgp["global"]["peers"]["10.255.12.2"]["is_up"] = False  # what the round read (the session is down)
        report = dev.compliance(EXPECT_R1_PEER_UP, known={"get_bgp_neighbors": bgp})
        # the known result decided the BGP check (the live device says up) ...
        assert report["get_bgp_neighbors"]["complies"] is False
        # ... and get_facts, not known, came from the device
        assert report["get_facts"]["complies"] is True
        # the known mapping is not changed by the report
        assert bgp["global"]["peers"]["10.255.12.2"]["is_up"] is False


def test_sessions_open_through_the_cached_driver_lookup(tmp_path: Path) -> None:
    from netimmutable.drivers.sim import SimDriver
    from netimmutable.errors import DeviceError
    from netimmutable.napalm_connection import CachedNapalm, network_driver

    with _device(tmp_path) as dev:
        assert type(dev.host.connections["napalm"]) is CachedNapalm
        assert isinstance(dev._driver, SimDriver)
        assert dev._driver.optional_args["lab_dir"] == str(tmp_path / "lab")
        assert dev.running_config().startswith("frr version")
    assert network_driver("sim") is SimDriver
    host = Host(name="r9", hostname="r9", platform="acme_nos")  # no such NAPALM driver
    host.connection_options["napalm"] = ConnectionOptions(platform="acme_nos", password="not-a-secret")
    with pytest.raises(DeviceError, match="acme_nos"):
        Device.open(host, attempts=1)
