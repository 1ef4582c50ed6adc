"""The Nornir host netimmutable builds (inventory + connections.yaml) for a device double, and a raw NAPALM
driver on the same double playing "another session" (an operator, another tool)."""

from __future__ import annotations

from typing import Any

import napalm
from nornir.core.inventory import ConnectionOptions, Host

from netimmutable.connections import CONNECTION
from tests.doubles.base import DeviceDouble

__all__ = ["host_for", "other_session"]


def host_for(dev: DeviceDouble, platform: str | None = None, **optional_args: Any) -> Host:
    """Host ``r1`` pointing at ``dev`` through NAPALM's ``platform`` driver (default: the double's)."""
    options = ConnectionOptions(extras={"optional_args": {**dict(dev.optional_args), **optional_args}})
    return Host(
        "r1",
        hostname=dev.hostname,
        username=dev.username,
        password=dev.password,
        platform=platform or dev.platform,
        connection_options={CONNECTION: options},
    )


def other_session(dev: DeviceDouble, **optional_args: Any) -> Any:
    """An open NAPALM driver of the double's platform, outside netimmutable (close it when done)."""
    driver = napalm.get_network_driver(dev.platform)(
        dev.hostname, dev.username, dev.password, optional_args={**dict(dev.optional_args), **optional_args}
    )
    driver.open()
    return driver
