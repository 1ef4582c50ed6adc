"""``netimmutable.preflight`` on a recording fake: which device calls each platform costs, and what it does
when the running config cannot be read. The platform checks themselves run against NAPALM's real drivers
and the doubles in ``tests/unit/platforms/test_<platform>_device.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from netimmutable.errors import PreflightFailed, Unsupported
from netimmutable.preflight import preflight

PREPARED_IOS = "archive\n path flash:archive\n!\nip scp server enable\n"


class Recording:
    name = "r1"

    def __init__(self, driver: str, running: str | None = PREPARED_IOS, **optional_args: Any) -> None:
        self.driver_name = driver
        self.optional_args: Mapping[str, Any] = optional_args
        self.running = running
        self.calls: list[str] = []

    def running_config(self) -> str:
        self.calls.append("get_config")
        if self.running is None:
            raise Unsupported("get_config: not supported by this driver", host=self.name)
        return self.running

    def probe_config_lock(self) -> None:
        self.calls.append("probe_config_lock")


@pytest.mark.parametrize(
    ("driver", "calls"),
    [
        ("ios", ["get_config"]),
        ("cisco_ios", ["get_config"]),
        ("nxos", ["get_config"]),
        ("junos", ["probe_config_lock"]),
        ("iosxr_netconf", ["probe_config_lock"]),
        ("eos", ["probe_config_lock"]),
        ("frr", []),
        ("sim", []),
        ("acme_os", []),
    ],
)
def test_device_calls_per_platform(driver: str, calls: list[str]) -> None:
    device = Recording(driver, PREPARED_IOS + "feature scp-server\n")
    preflight(device)
    assert device.calls == calls


def test_a_running_config_in_hand_is_not_read_again() -> None:
    device = Recording("ios")
    preflight(device, running=PREPARED_IOS)
    assert device.calls == []


def test_a_driver_that_cannot_read_the_running_config_is_not_refused_for_it() -> None:
    device = Recording("ios", running=None)
    preflight(device)
    assert device.calls == ["get_config"]


def test_every_missing_prerequisite_is_named_at_once() -> None:
    with pytest.raises(PreflightFailed) as caught:
        preflight(Recording("ios", running="hostname r1\n"))
    assert caught.value.host == "r1"
    assert "`archive`" in caught.value.message and "ip scp server enable" in caught.value.message
