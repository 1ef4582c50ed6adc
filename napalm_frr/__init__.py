"""NAPALM shim: ``napalm.get_network_driver("frr")`` imports ``napalm_frr`` and finds the driver here."""

from __future__ import annotations

from netimmutable.drivers.frr import FrrDriver

__all__ = ["FrrDriver"]
