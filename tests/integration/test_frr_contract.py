"""The shared driver contract (tests/contract.py) on a real FRR router of the lab."""

from __future__ import annotations

import pytest

from tests.contract import DeviceUnderTest, DriverContract
from tests.integration.conftest import FrrLab, FrrRouter

# one lab per machine: every real-router test runs in the same xdist worker, one after another
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("frr-lab")]


class TestFrrContract(DriverContract):
    @pytest.fixture
    def dut(self, frr_lab: FrrLab) -> DeviceUnderTest:
        router: FrrRouter = frr_lab.router("r1")
        router.neighbor_ip = "10.255.12.2"
        router.peer = frr_lab.router("r2")
        return router  # type: ignore[return-value]
