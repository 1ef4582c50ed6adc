"""A community NAPALM driver netimmutable does not know (``platform: blindsim``), for the tests: the sim
device, without ``get_config`` and without ``get_bgp_neighbors_detail`` (both raise ``NotImplementedError``,
as many community drivers do). Found by NAPALM as the ``napalm_blindsim`` package, like any ``napalm-<x>``.
"""

from __future__ import annotations

from typing import Any

from netimmutable.drivers import sim as _sim

__all__ = ["BlindSimDriver"]


class BlindSimDriver(_sim.SimDriver):
    """The sim device seen through a driver that cannot read the running config."""

    config_reads = 0
    """How often netimmutable asked for the running config (class-wide, across sessions)."""

    def get_config(self, retrieve: str = "all", full: bool = False, sanitized: bool = False) -> Any:
        BlindSimDriver.config_reads += 1
        raise NotImplementedError

    def get_bgp_neighbors_detail(self, neighbor_address: str = "") -> Any:
        raise NotImplementedError
