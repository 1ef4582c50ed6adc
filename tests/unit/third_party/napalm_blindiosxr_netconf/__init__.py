"""NAPALM's real ``iosxr_netconf`` driver as a community driver netimmutable does not know
(``driver: blindiosxr_netconf``), without ``get_config`` (it raises ``NotImplementedError``, as many
community drivers do), for the tests (``tests/unit/platforms/test_vendor_blind.py``). Found by NAPALM as
the ``napalm_blindiosxr_netconf`` package, like any ``napalm-<x>``.
"""

from __future__ import annotations

from typing import Any

import napalm.iosxr_netconf.iosxr_netconf as _base

__all__ = ["BlindIOSXRNETCONFDriver"]


class BlindIOSXRNETCONFDriver(_base.IOSXRNETCONFDriver):
    """The iosxr_netconf driver, unable to read the running config."""

    def get_config(self, retrieve: str = "all", full: bool = False, sanitized: bool = False) -> Any:
        raise NotImplementedError
