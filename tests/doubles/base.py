"""What every device double offers the tests, whatever protocol it speaks (``DeviceDouble``).

A double keeps a running config, a candidate (or config session), a pending commit whose revert timer really
fires, and rollback checkpoints. Its BGP state is derived from its config: a configured neighbour is
Established when the double's ``peers`` table has that address with the same AS, otherwise it is down (so a
wrong AS in a release fails the post-checks the way a real session would). Its interfaces are the ones its
config declares.

Credentials are generated when the double starts (``secrets.token_urlsafe``), never written in a fixture.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["DeviceDouble", "new_password"]


def new_password() -> str:
    """A password made at run time for one double."""
    return secrets.token_urlsafe(16)


class DeviceDouble(Protocol):
    """One simulated vendor device listening on 127.0.0.1, plus out-of-band access to its state."""

    platform: str
    """The NAPALM driver name (``eos``, ``junos``, ``ios``, ``iosxr_netconf``, ``nxos``...)."""
    name: str
    """The device's hostname (as its config says)."""
    hostname: str
    """Where the driver connects (always ``127.0.0.1``)."""
    username: str
    password: str
    optional_args: Mapping[str, Any]
    """What NAPALM's driver needs to reach the double (port, transport...): JSON-serialisable."""
    baseline: str
    """The running config the double starts with, exactly as it shows it (``show running-config``)."""
    peers: Mapping[str, int]
    """BGP peers that exist behind the device's links: address -> their AS."""

    def running(self) -> str:
        """The running config, read out of band (never through the driver)."""

    def set_running(self, config: str) -> None:
        """Replace the running config out of band, as a person on the console would (drift)."""

    def has_pending(self) -> bool:
        """A commit with a revert timer is waiting for its confirm."""

    def fire_timer(self) -> None:
        """The pending commit's revert timer expires now: the config before that commit comes back."""

    def stop(self) -> None:
        """Stop listening and cancel timers (idempotent)."""
