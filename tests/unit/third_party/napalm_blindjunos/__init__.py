"""NAPALM's real ``junos`` driver as a community driver netimmutable does not know (``driver:
blindjunos``), without ``get_config`` (it raises ``NotImplementedError``, as many community drivers do),
for the tests (``tests/unit/platforms/test_vendor_blind.py``). Found by NAPALM as the ``napalm_blindjunos``
package, like any ``napalm-<x>``.
"""

from __future__ import annotations

from typing import Any

import napalm.junos.junos as _base

__all__ = ["BlindJunOSDriver"]


class BlindJunOSDriver(_base.JunOSDriver):
    """The junos driver, unable to read the running config."""

    def get_config(self, retrieve: str = "all", full: bool = False, sanitized: bool = False) -> Any:
        raise NotImplementedError
