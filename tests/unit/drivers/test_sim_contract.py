"""The shared driver contract on ``sim`` devices (a SimLab of the example network in tmp_path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import napalm
import pytest
from napalm.base import NetworkDriver

from netimmutable.drivers.sim import SimLab
from tests.contract import DeviceUnderTest, DriverContract
from tests.unit.drivers.example_network import ROUTERS, frr_config


@dataclass
class SimDut:
    """A ``DeviceUnderTest`` backed by a SimLab device; out-of-band access goes through the lab's files."""

    lab: SimLab
    hostname: str
    neighbor_ip: str = ""
    peer_name: str = ""
    driver_name: str = "sim"
    username: str = ""
    password: str = ""
    revert_in: int = 1
    settle_timeout: float = 10.0
    optional_args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.optional_args = self.lab.connection_entry(self.hostname)["optional_args"]
        self.baseline = frr_config(self.hostname)

    @property
    def peer(self) -> DeviceUnderTest:
        return SimDut(self.lab, self.peer_name)

    def open_driver(self) -> NetworkDriver:
        drv = napalm.get_network_driver(self.driver_name)(
            self.hostname, self.username, self.password, optional_args=dict(self.optional_args)
        )
        drv.open()
        return drv

    def running(self) -> str:
        return self.lab.running(self.hostname)

    def reset(self) -> None:
        for host in ROUTERS:
            self.lab.clear_knobs(host)
            self.lab.set_running(host, frr_config(host))

    def oob_edit(self, add: Sequence[str]) -> None:
        self.lab.edit(self.hostname, add=add)


@pytest.fixture(scope="module")
def sim_lab(tmp_path_factory: pytest.TempPathFactory) -> SimLab:
    lab = SimLab(Path(tmp_path_factory.mktemp("simlab")) / "lab")
    for host in ROUTERS:
        lab.create(host, frr_config(host))
    return lab


class TestSimContract(DriverContract):
    @pytest.fixture
    def dut(self, sim_lab: SimLab) -> DeviceUnderTest:
        return SimDut(sim_lab, "r2", neighbor_ip="10.255.23.2", peer_name="r3")
