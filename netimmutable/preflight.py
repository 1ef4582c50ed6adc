"""Pre-flight: each platform's prerequisites of a full replacement, checked on the open session before the
change window touches anything.

A prerequisite that is missing would otherwise surface half-way through the window as a vendor error at load
or commit (IOS: ``%Please turn config archive on``; NX-OS: "Could not transfer file"; Junos and IOS-XR: a
locked candidate; EOS: NAPALM waiting ten seconds for a session lock and giving up). Pre-flight refuses the
host up front, naming the host and what to configure.

What is checked, and what it costs (device calls on top of the window's own):

- **ios**: ``archive`` with a ``path`` (NAPALM commits with ``configure replace ... revert trigger error``),
  an SCP server (``ip scp server enable``) or ``inline_transfer``, and ``file prompt quiet`` when
  ``auto_file_prompt`` is off: 1 call (``get_config``).
- **nxos**, nxos_ssh: ``feature scp-server`` (the candidate goes to ``bootflash:`` by SCP): 1 call.
- **junos**: the candidate can be locked (no other session holds it or left uncommitted changes in it):
  2 RPCs (lock, unlock).
- **iosxr_netconf**: the candidate can be locked: 2 RPCs.
- **eos**: no other config session is pending (it would block our load): 1 call
  (``show configuration sessions``).
- other platforms: nothing, no call.

``plan`` passes the running config it reads anyway: there pre-flight adds no read.

Examples:
    >>> config_problems("ios", "hostname r1\\n!\\nip scp server enable\\n", {})[0][:42]
    'the `archive` feature with a `path` is not'
    >>> config_problems("ios", "archive\\n path flash:archive\\n!\\n", {"inline_transfer": True})
    ()
    >>> config_problems("nxos", "feature bgp\\n", {})[0][:38]
    '`feature scp-server` is not configured'
    >>> config_problems("eos", "", {})
    ()
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from netimmutable.drivers.capabilities import capability
from netimmutable.errors import PreflightFailed, Unsupported

__all__ = ["CONFIG_PLATFORMS", "LOCK_PLATFORMS", "PreflightDevice", "config_problems", "preflight"]

CONFIG_PLATFORMS = frozenset({"ios", "nxos", "nxos_ssh"})
"""Platforms whose prerequisites are read from the running config."""
LOCK_PLATFORMS = frozenset({"junos", "iosxr_netconf", "eos"})
"""Platforms whose candidate lock (EOS: config sessions) is probed."""

_ARCHIVE_PATH = re.compile(r"^archive[ \t]*\n(?:[ \t]+.*\n)*?[ \t]+path[ \t]+\S", re.MULTILINE)
_IOS_SCP = re.compile(r"^ip scp server enable[ \t]*$", re.MULTILINE)
_IOS_FILE_PROMPT = re.compile(r"^file prompt quiet[ \t]*$", re.MULTILINE)
_NXOS_SCP = re.compile(r"^feature scp-server[ \t]*$", re.MULTILINE)


class PreflightDevice(Protocol):
    """The part of ``netimmutable.device.Device`` pre-flight uses."""

    name: str
    driver_name: str
    optional_args: Mapping[str, Any]

    def running_config(self) -> str: ...
    def probe_config_lock(self) -> None: ...


def config_problems(platform: str, running: str, optional_args: Mapping[str, Any]) -> tuple[str, ...]:
    """What the running config lacks for a full replacement on ``platform``, each with what to configure."""
    key = capability(platform).platform
    text = running if running.endswith("\n") else running + "\n"
    problems: list[str] = []
    if key == "ios":
        if not _ARCHIVE_PATH.search(text):
            problems.append(
                "the `archive` feature with a `path` is not configured: NAPALM's ios driver replaces the "
                "config with `configure replace ... revert trigger error`, which IOS refuses without it; "
                "configure `archive` / ` path flash:archive`"
            )
        if not _IOS_SCP.search(text) and not optional_args.get("inline_transfer"):
            problems.append(
                "the SCP server is not enabled and `inline_transfer` is not set: the candidate is copied to "
                "flash by SCP; configure `ip scp server enable` (with `aaa authorization exec`), or set "
                "`inline_transfer: true` in the host's optional_args (.netimmutable/connections.yaml)"
            )
        if optional_args.get("auto_file_prompt") is False and not _IOS_FILE_PROMPT.search(text):
            problems.append(
                "`auto_file_prompt` is off but `file prompt quiet` is not configured: NAPALM's ios driver "
                "refuses its file operations; add `file prompt quiet` to the host's config"
            )
    elif key in ("nxos", "nxos_ssh") and not _NXOS_SCP.search(text):
        problems.append(
            "`feature scp-server` is not configured: NAPALM's nxos driver copies the candidate to bootflash: "
            "by SCP (over SSH port 22, whatever the NX-API port); configure `feature scp-server`"
        )
    return tuple(problems)


def preflight(device: PreflightDevice, running: str | None = None) -> None:
    """Check ``device``'s platform prerequisites; raises ``PreflightFailed`` (what to configure, all at once)
    or ``CandidateLocked`` (who holds the lock), and ``DeviceError`` as the device does. Changes nothing: a
    lock probe releases what it took. ``running``: the running config read a moment ago (saves a read)."""
    platform = capability(device.driver_name).platform
    if platform in CONFIG_PLATFORMS:
        text = running
        if text is None:
            try:
                text = device.running_config()
            except Unsupported:  # a driver that cannot read it: nothing to check (load and commit will tell)
                text = None
        problems = config_problems(platform, text, device.optional_args) if text is not None else ()
        if problems:
            raise PreflightFailed(
                f"pre-flight ({platform}): " + "; ".join(problems) + "; nothing was changed",
                host=device.name,
            )
    if platform in LOCK_PLATFORMS:
        device.probe_config_lock()
