"""The ``sim`` NAPALM driver: simulated FRR-syntax routers whose state lives in a lab folder.

Modules, in the order data moves: ``parse`` (config text -> model), ``knobs`` (fault injection),
``state`` (files, locks, revert deadlines, address index), ``bgp`` (sessions derived from peers),
``driver`` (the NAPALM ``NetworkDriver``), ``lab`` (``SimLab``: create/disturb/remove devices out of band).
"""

from __future__ import annotations

from netimmutable.drivers.sim.driver import SimDriver
from netimmutable.drivers.sim.knobs import Knobs
from netimmutable.drivers.sim.lab import SimLab

__all__ = ["Knobs", "SimDriver", "SimLab"]
