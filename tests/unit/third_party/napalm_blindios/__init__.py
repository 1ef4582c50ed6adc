"""NAPALM's real ``ios`` driver as a community driver netimmutable does not know (``driver:
blindios``), without ``get_config`` (it raises ``NotImplementedError``, as many community drivers do),
for the tests (``tests/unit/platforms/test_vendor_blind.py``). Found by NAPALM as the ``napalm_blindios``
package, like any ``napalm-<x>``.
"""

from __future__ import annotations

from typing import Any

import napalm.ios.ios as _base

__all__ = ["BlindIOSDriver"]


class BlindIOSDriver(_base.IOSDriver):
    """The ios driver, unable to read the running config."""

    def get_config(self, retrieve: str = "all", full: bool = False, sanitized: bool = False) -> Any:
        raise NotImplementedError
