"""The Nornir connection plugin netimmutable opens NAPALM sessions with (registered as ``napalm``).

It is nornir_napalm's ``Napalm`` plugin with one difference: the driver class of a platform is looked up
once per process. ``napalm.get_network_driver`` imports and inspects modules on every call (for a
community driver it first tries a ``napalm.<name>`` module that does not exist, which searches the disk
each time): ~0.35 ms per session, a fifth of a scheduled verify's CPU per device.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from napalm import get_network_driver
from nornir.core.configuration import Config
from nornir.core.plugins.connections import ConnectionPluginRegister
from nornir_napalm.plugins.connections import Napalm

from netimmutable.drivers.platform_names import napalm_driver

__all__ = ["CachedNapalm", "network_driver", "register"]


@lru_cache(maxsize=64)
def network_driver(platform: str) -> Any:
    """The NAPALM driver class of ``platform``; raises as ``napalm.get_network_driver`` does (uncached)."""
    return get_network_driver(platform)


class CachedNapalm(Napalm):
    """nornir_napalm's connection plugin, with the driver class lookup cached (see the module docstring)."""

    def open(
        self,
        hostname: str | None,
        username: str | None,
        password: str | None,
        port: int | None,
        platform: str | None,
        extras: dict[str, Any] | None = None,
        configuration: Config | None = None,
    ) -> None:
        parameters: dict[str, Any] = {
            "hostname": hostname,
            "username": username,
            "password": password,
            "optional_args": {},
        }
        ssh = getattr(configuration, "ssh", None)
        if ssh is not None and getattr(ssh, "config_file", None) is not None:
            parameters["optional_args"]["ssh_config_file"] = ssh.config_file
        parameters.update(extras or {})
        if port and "port" not in parameters["optional_args"]:
            parameters["optional_args"]["port"] = port
        connection = network_driver(napalm_driver(str(platform)))(**parameters)
        connection.open()
        self.connection = connection


def register(name: str) -> None:
    """Make ``name`` (netimmutable's connection name) open sessions through ``CachedNapalm``."""
    ConnectionPluginRegister.available[name] = CachedNapalm
