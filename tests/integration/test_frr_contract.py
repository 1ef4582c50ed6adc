"""The shared driver contract (tests/contract.py) on a real FRR router of the lab."""

from __future__ import annotations

import pytest

from tests.contract import DeviceUnderTest, DriverContract
from tests.integration.conftest import FrrLab, FrrRouter

pytestmark = pytest.mark.integration


class TestFrrContract(DriverContract):
    @pytest.fixture
    def dut(self, frr_lab: FrrLab) -> DeviceUnderTest:
        router: FrrRouter = frr_lab.router("r1")
        router.neighbor_ip = "10.255.12.2"
        router.peer = frr_lab.router("r2")
        return router  # type: ignore[return-value]
