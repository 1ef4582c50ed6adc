"""The ``frr`` NAPALM driver (FRRouting over SSH); plain NAPALM users get it through ``napalm_frr``."""

from __future__ import annotations

from netimmutable.drivers.frr.driver import FrrDriver

__all__ = ["FrrDriver"]
