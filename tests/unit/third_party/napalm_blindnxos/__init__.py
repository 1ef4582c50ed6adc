"""NAPALM's real ``nxos`` driver as a community driver netimmutable does not know (``driver:
blindnxos``), without ``get_config`` (it raises ``NotImplementedError``, as many community drivers do),
for the tests (``tests/unit/platforms/test_vendor_blind.py``). Found by NAPALM as the ``napalm_blindnxos``
package, like any ``napalm-<x>``.
"""

from __future__ import annotations

from typing import Any

import napalm.nxos.nxos as _base

__all__ = ["BlindNXOSDriver"]


class BlindNXOSDriver(_base.NXOSDriver):
    """The nxos driver, unable to read the running config."""

    def get_config(self, retrieve: str = "all", full: bool = False, sanitized: bool = False) -> Any:
        raise NotImplementedError
