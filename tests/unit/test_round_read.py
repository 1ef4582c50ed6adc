"""A check round's getters read together: ``checks`` announces them, ``Device`` passes that on to a driver
that can read them at once (the frr driver: tests/unit/drivers/test_frr_read_together.py), others are not
asked."""

from __future__ import annotations

from typing import Any

import pytest
from napalm.base.exceptions import ConnectionException
from nornir.core.inventory import ConnectionOptions, Host

from netimmutable.checks import capture_state
from netimmutable.device import Device
from netimmutable.errors import ConnectError


class _Getters:
    """The getters a round reads, logging each call (and, with ``together``, the announcement)."""

    def __init__(self, together: bool) -> None:
        self.log: list[Any] = []
        if together:
            self.read_together = lambda getters: self.log.append(("read_together", tuple(getters)))

    def get_facts(self) -> dict[str, Any]:
        self.log.append("get_facts")
        return {"hostname": "d1"}

    def get_interfaces(self) -> dict[str, Any]:
        self.log.append("get_interfaces")
        return {"eth1": {"is_up": True, "is_enabled": True}}

    def get_bgp_neighbors(self) -> dict[str, Any]:
        self.log.append("get_bgp_neighbors")
        return {"global": {"router_id": "", "peers": {}}}


def _device(driver: Any) -> Device:
    host = Host(name="d1", hostname="d1", platform="frr")
    host.connection_options["napalm"] = ConnectionOptions(platform="frr")
    return Device(host, driver)


def test_a_round_announces_its_getters_before_asking_them() -> None:
    driver = _Getters(together=True)
    state = capture_state(_device(driver))
    round_ = ("get_facts", "get_interfaces", "get_bgp_neighbors")
    assert driver.log == [("read_together", round_), *round_]
    assert state.interface("eth1") is not None


def test_a_driver_without_read_together_is_asked_each_getter_only() -> None:
    driver = _Getters(together=False)
    capture_state(_device(driver))
    assert driver.log == ["get_facts", "get_interfaces", "get_bgp_neighbors"]


def test_a_lost_connection_while_reading_together_is_a_connect_error() -> None:
    driver = _Getters(together=True)

    def lost(getters: Any) -> None:
        raise ConnectionException("d1: SSH failed")

    driver.read_together = lost
    with pytest.raises(ConnectError, match="read_together"):
        capture_state(_device(driver))
    assert driver.log == []
