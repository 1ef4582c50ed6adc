"""A local lab of the example network: real FRR routers in network namespaces, or simulated devices.

>>> from netimmutable.lab import lab_up, lab_down, lab_status   # doctest: +SKIP
"""

from __future__ import annotations

from netimmutable.lab.api import lab_down, lab_status, lab_up
from netimmutable.lab.model import LabRouterStatus, LabStatus

__all__ = ["LabRouterStatus", "LabStatus", "lab_down", "lab_status", "lab_up"]
