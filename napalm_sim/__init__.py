"""NAPALM community-driver shim: ``napalm.get_network_driver("sim")`` returns netimmutable's ``SimDriver``.

Only the driver class is exported here: NAPALM picks the first ``NetworkDriver`` subclass it finds in this
module, so nothing else of that kind may be imported at module level.
"""

from __future__ import annotations

from netimmutable.drivers.sim.driver import SimDriver

__all__ = ["SimDriver"]
