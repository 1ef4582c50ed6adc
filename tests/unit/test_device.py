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


class _RecordingDriver:
    """A driver that keeps every commit_config call and, like NAPALM's eos/ios/nxos drivers, raises
    ``NotImplementedError`` for any commit message when ``takes_message`` is False."""

    def __init__(self, takes_message: bool) -> None:
        self.takes_message = takes_message
        self.commits: list[dict[str, object]] = []
        self.config_reads = 0

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        if message and not self.takes_message:
            raise NotImplementedError("Commit message not implemented for this platform")
        self.commits.append({"message": message, "revert_in": revert_in})

    def get_config(self, retrieve: str = "all") -> dict[str, str]:
        self.config_reads += 1
        raise NotImplementedError


def _on(platform: str, driver: _RecordingDriver) -> Device:
    host = Host(name="d1", hostname="d1", platform=platform)
    host.connection_options["napalm"] = ConnectionOptions(platform=platform)
    return Device(host, driver)


@pytest.mark.parametrize(
    ("platform", "takes_message", "revert_in", "expected"),
    [
        ("eos", False, 300, {"message": "", "revert_in": 300}),
        ("ios", False, 120, {"message": "", "revert_in": 120}),
        ("nxos", False, None, {"message": "", "revert_in": None}),
        ("iosxr_netconf", False, None, {"message": "", "revert_in": None}),
        ("junos", True, 120, {"message": "netimmutable deploy abc", "revert_in": 120}),
        ("iosxr", True, None, {"message": "netimmutable deploy abc", "revert_in": None}),
        ("acme_os", False, None, {"message": "", "revert_in": None}),  # a driver netimmutable does not know
    ],
)
def test_commit_passes_only_what_the_platform_takes(
    platform: str, takes_message: bool, revert_in: int | None, expected: dict[str, object]
) -> None:
    """A commit message is passed only where the device stores one: NAPALM's eos, ios, nxos and
    iosxr_netconf drivers refuse every commit with a message (issue 15 item 1: every commit failed there)."""
    driver = _RecordingDriver(takes_message)
    _on(platform, driver).commit("netimmutable deploy abc", revert_in)
    assert driver.commits == [expected]


def test_a_revert_timer_on_a_platform_without_one_is_refused_before_the_driver_is_called() -> None:
    from netimmutable.errors import Unsupported

    driver = _RecordingDriver(takes_message=False)
    with pytest.raises(Unsupported, match="no device-side revert timer"):
        _on("nxos", driver).commit("m", 300)
    assert driver.commits == []


def test_a_read_the_driver_does_not_implement_is_remembered_for_the_run() -> None:
    from netimmutable.drivers.unsupported import unsupported_steps
    from netimmutable.errors import Unsupported

    driver = _RecordingDriver(takes_message=False)
    dev = _on("acme_os", driver)
    for _ in range(3):
        with pytest.raises(Unsupported):
            dev.running_config()
    assert driver.config_reads == 1  # asked once; later reads are answered at once
    assert unsupported_steps("acme_os") == ("get_config",)
    assert unsupported_steps("sim") == ()


def test_a_commit_refused_as_not_implemented_is_not_remembered() -> None:
    """A driver may refuse one form of a call (with a message) and take another: only reads are remembered."""
    from netimmutable.drivers.unsupported import unsupported_steps

    driver = _RecordingDriver(takes_message=False)
    driver.commit_config = lambda **_kw: (_ for _ in ()).throw(NotImplementedError())  # type: ignore[method-assign]
    dev = _on("acme_os", driver)
    from netimmutable.errors import Unsupported

    with pytest.raises(Unsupported):
        dev.commit("", None)
    assert unsupported_steps("acme_os") == ()
