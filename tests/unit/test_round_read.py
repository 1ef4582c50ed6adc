"""A check round's getters read together: ``checks`` announces them, ``Device`` passes that on to a driver
that can read them at once (the frr driver: tests/unit/drivers/test_frr_read_together.py), others are not
asked."""

from __future__ import annotations

from typing import Any

import pytest
from napalm.base.exceptions import ConnectionException
from nornir.core.inventory import ConnectionOptions, Host

from netimmutable.checks import ChangeScope, CheckTarget, capture_state, post_check, pre_check
from netimmutable.compare import Strategy
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

    def get_config(self, retrieve: str = "all") -> dict[str, str]:
        self.log.append("get_config")
        return {"running": "hostname d1\n", "startup": "", "candidate": ""}


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


CONFIG_ROUND = ("get_config", "get_facts", "get_interfaces", "get_bgp_neighbors")


@pytest.mark.parametrize("strategy", [Strategy.TEXT, Strategy.TEXT_FIRST])
def test_the_pre_check_reads_the_running_config_and_the_pre_state_as_one_round(strategy: Strategy) -> None:
    driver = _Getters(together=True)
    pre_check(_device(driver), "hostname d1\n", strategy=strategy)
    assert driver.log[:2] == [("read_together", CONFIG_ROUND), "get_config"]
    assert driver.log[2:] == [("read_together", CONFIG_ROUND[1:]), *CONFIG_ROUND[1:]]


def test_the_post_check_reads_the_convergence_and_its_first_round_as_one() -> None:
    driver = _Getters(together=True)
    checked = post_check(
        _device(driver),
        CheckTarget("hostname d1\n", None, False),
        None,
        ChangeScope(),
        settle_timeout=1.0,
        settle_interval=0.0,
        strategy=Strategy.TEXT_FIRST,
    )
    assert checked.ok
    assert driver.log == [
        ("read_together", CONFIG_ROUND),
        "get_config",
        ("read_together", CONFIG_ROUND[1:]),
        *CONFIG_ROUND[1:],
    ]


def test_a_device_comparison_announces_no_running_config() -> None:
    driver = _Getters(together=True)
    driver.load_replace_candidate = lambda config: driver.log.append("load")  # type: ignore[attr-defined]
    driver.compare_config = lambda: ""  # type: ignore[attr-defined]
    driver.discard_config = lambda: driver.log.append("discard")  # type: ignore[attr-defined]
    target = CheckTarget("hostname d1\n", None, False)
    post_check(
        _device(driver),
        target,
        None,
        ChangeScope(),
        settle_timeout=1.0,
        settle_interval=0.0,
        strategy=Strategy.DEVICE,
    )
    assert driver.log[0] == ("read_together", CONFIG_ROUND[1:])
    assert "get_config" not in driver.log
