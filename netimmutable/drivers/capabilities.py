"""What each platform's NAPALM driver can really do, so the deploy adapts and says so (never silently).

Facts for eos/junos/ios/iosxr/nxos were read from the NAPALM 5.2 sources (``napalm/<os>/``):

- **eos** ``commit_config``: ``revert_in`` becomes ``configure session ... commit timer HH:MM:SS`` (seconds,
  formatted with ``time.gmtime``, so under 24 h); a message raises ``NotImplementedError``. Before every
  commit it runs ``copy startup-config flash:rollback-0``; ``rollback()`` without a pending timer runs
  ``configure replace flash:rollback-0``: the *startup-config as it was before the last commit* (unsaved
  running changes are lost). With a timer pending it aborts the session. Config sessions act as the lock.
- **junos**: ``revert_in`` must be a multiple of 60 (else ``CommitConfirmException``), sent as
  ``commit confirmed <minutes>``; messages are commit comments; ``rollback()`` is ``rollback 1`` + commit (the
  previous commit); the candidate database is locked at load (unless ``lock_disable``/``config_private``).
- **ios**: ``revert_in`` needs the ``archive`` feature (else ``CommitConfirmException``), 60..7200 s,
  truncated to whole minutes (``configure replace ... revert timer <min>``); no messages; ``rollback()``
  replaces with ``rollback_config.txt``, a copy of running taken at commit time, then saves; no config lock.
- **iosxr** (XML agent): ``revert_in`` raises ``NotImplementedError``; messages are commit comments;
  ``rollback()`` is ``Rollback Previous 1``; the config is locked at load (or on connect with
  ``config_lock``).
- **nxos** / nxos_ssh: ``revert_in`` and messages raise ``NotImplementedError``; commit saves a
  ``checkpoint`` of running first and ``rollback()`` restores that checkpoint, then copies run to start;
  no lock.
- **frr** and **sim** are this package's drivers: device-side revert timer in seconds, no commit message on
  the device (sim records it in its history), ``rollback()`` restores the config from before the last commit.

Examples:
    >>> revert_in_for("junos", 90)
    120
    >>> revert_in_for("eos", 90)
    90
    >>> revert_in_for("nxos", 90) is None
    True
    >>> capability("sros").platform, capability("juniper_junos").platform
    ('sros', 'junos')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from netimmutable.drivers.platform_names import napalm_driver

__all__ = [
    "CAPABILITIES",
    "Capability",
    "artifact_format",
    "capability",
    "render_table",
    "replace_format_problem",
    "replace_load",
    "revert_in_for",
]


@dataclass(frozen=True, slots=True)
class Capability:
    """One platform's behaviour as its NAPALM driver implements it."""

    platform: str
    replace: bool  # load_replace_candidate (full replacement) works
    revert_timer: bool  # device-side commit-confirm through commit_config(revert_in=...)
    revert_unit: int  # seconds per unit of the device timer (60: whole minutes); 0 without a timer
    revert_min: int  # seconds; 0 without a timer
    revert_max: int  # seconds; 0 without a timer
    revert_needs: str  # device prerequisite for the timer ("" when none)
    commit_message: bool  # commit_config(message=...) is stored on the device
    rollback_restores: str  # what NetworkDriver.rollback() really puts back
    config_lock: str  # how the driver keeps others out while a candidate is loaded
    known: bool = True  # False: a conservative default for a platform not in the table
    replace_formats: tuple[str, ...] = ("text",)
    """Artifact formats ``load_replace_candidate`` can load as a full replacement (``artifact_format``)."""
    session_attr: str = ""
    """The driver attribute naming the device-side session a pending commit belongs to ("" when a pending
    commit is the device's, not one driver object's): EOS keys confirm and rollback on ``config_session``, and
    closing the driver that holds it aborts the session (``netimmutable.device.Device.close``)."""

    @property
    def revert_limits(self) -> str:
        if not self.revert_timer:
            return "none"
        unit = "min" if self.revert_unit == 60 else "s"
        scale = 60 if unit == "min" else 1
        return f"{self.revert_min // scale}-{self.revert_max // scale} {unit}"


CAPABILITIES: dict[str, Capability] = {
    c.platform: c
    for c in (
        Capability(
            "eos",
            True,
            True,
            1,
            1,
            86_399,
            "",
            False,
            "startup-config saved before the last commit (flash:rollback-0); a pending timer is aborted",
            "configure session (pending sessions block others)",
            session_attr="config_session",
        ),
        Capability(
            "junos",
            True,
            True,
            60,
            60,
            65_535 * 60,
            "",
            True,
            "the previous commit (rollback 1, then commit)",
            "exclusive candidate lock at load",
            replace_formats=("text", "xml", "set"),
        ),
        Capability(
            "ios",
            True,
            True,
            60,
            60,
            7_200,
            "archive configured",
            False,
            "running-config copied at the last commit (rollback_config.txt), then saved",
            "none",
        ),
        Capability(
            "iosxr",
            True,
            False,
            0,
            0,
            0,
            "",
            True,
            "the previous commit (Rollback Previous 1)",
            "exclusive lock at load (or on connect with config_lock)",
        ),
        Capability(
            "nxos",
            True,
            False,
            0,
            0,
            0,
            "",
            False,
            "checkpoint of running taken at the last commit, then saved",
            "none",
        ),
        Capability(
            "frr",
            True,
            True,
            1,
            1,
            86_400,
            "",
            False,
            "config from before the last commit (snapshot taken at commit); a pending timer is cancelled",
            "none (one deploy per device is held by netimmutable's own lock)",
        ),
        Capability(
            "sim",
            True,
            True,
            1,
            1,
            86_400,
            "",
            False,
            "config from before the last commit; a pending timer is cancelled",
            "device lock held only during each commit",
        ),
    )
}
CAPABILITIES["nxos_ssh"] = replace(CAPABILITIES["nxos"], platform="nxos_ssh")
CAPABILITIES["iosxr_netconf"] = replace(
    CAPABILITIES["iosxr"],
    platform="iosxr_netconf",
    commit_message=False,
    rollback_restores="the previous commit (roll-back-configuration-last 1)",
    config_lock="exclusive lock at load",
)

_DEFAULT = Capability(
    "",
    True,
    False,
    0,
    0,
    0,
    "",
    False,
    "unknown: not trusted; netimmutable rolls back by full replace with the last good release",
    "unknown",
    known=False,
)


def capability(platform: str) -> Capability:
    """The capability of ``platform``; unknown platforms get a conservative default (no device-side timer)."""
    key = napalm_driver(platform.lower().replace("-", ""))
    found = CAPABILITIES.get(key)
    return found if found is not None else replace(_DEFAULT, platform=platform)


def revert_in_for(platform: str, seconds: int) -> int | None:
    """The ``revert_in`` to pass for a wanted revert timer of ``seconds``; None when no device-side timer.

    Rounds up to the platform's unit and up to its minimum (a later revert, never an earlier one); raises
    ``ValueError`` when ``seconds`` exceeds the platform's maximum, since shortening it could revert a good
    change before its checks finish.

    Examples:
        >>> revert_in_for("ios", 30), revert_in_for("ios", 61)
        (60, 120)
        >>> revert_in_for("ios", 7201)
        Traceback (most recent call last):
        ...
        ValueError: ios: a revert timer of 7201 s exceeds the platform maximum of 7200 s
    """
    if seconds < 1:
        raise ValueError(f"revert timer must be at least 1 s, got {seconds}")
    cap = capability(platform)
    if not cap.revert_timer:
        return None
    wanted = max(seconds, cap.revert_min)
    rounded = math.ceil(wanted / cap.revert_unit) * cap.revert_unit
    if rounded > cap.revert_max:
        raise ValueError(
            f"{platform}: a revert timer of {seconds} s exceeds the platform maximum of {cap.revert_max} s"
        )
    return rounded


_JUNOS_SET_ACTIONS = frozenset(
    [
        "set",
        "activate",
        "deactivate",
        "annotate",
        "copy",
        "delete",
        "insert",
        "protect",
        "rename",
        "unprotect",
        "edit",
        "top",
        "wildcard",
    ]
)
"""The first words by which NAPALM's junos driver (``JunOSDriver._detect_config_format``, napalm 5.2) takes
a configuration for ``set`` format."""


def artifact_format(platform: str, config: str) -> str:
    r"""The format the platform's driver will load ``config`` in: ``text`` everywhere but Junos, where NAPALM
    detects ``xml`` (a leading ``<``) and ``set`` (a first word such as ``set`` or ``delete``) as it does;
    ``json`` (a leading ``{``), which NAPALM does not detect, is named so that it can be refused.

    Examples:
        >>> artifact_format("junos", "set system host-name r1\n"), artifact_format("junos", "system {\n}\n")
        ('set', 'text')
        >>> artifact_format("eos", "set x")
        'text'
    """
    if capability(platform).platform != "junos":
        return "text"
    stripped = config.strip()
    if stripped.startswith("<"):
        return "xml"
    if stripped.startswith("{"):  # NAPALM would send it as text, which Junos cannot parse
        return "json"
    return "set" if stripped.split(" ")[0] in _JUNOS_SET_ACTIONS else "text"


def replace_format_problem(platform: str, config: str) -> str | None:
    r"""Why ``config`` cannot be a full replacement on ``platform`` (its format is not among the platform's
    ``replace_formats``), or None.

    Examples:
        >>> replace_format_problem("junos", "set system host-name r1\n") is None
        True
        >>> print(replace_format_problem("junos", '\n{"configuration": {}}\n').split(";")[0])
        the artifact is in Junos `json` format (line 2: `{"configuration": {}}`)
    """
    fmt = artifact_format(platform, config)
    if fmt in capability(platform).replace_formats:
        return None
    number, first = next((n, line) for n, line in enumerate(config.splitlines(), 1) if line.strip())
    return (
        f"the artifact is in Junos `{fmt}` format (line {number}: `{first.strip()}`); a full replacement "
        "needs the configuration in curly-brace text (`show configuration`), `set` commands or XML"
    )


_DELETE_ALL = "delete \n"
"""A top-level ``delete``; the space keeps NAPALM's format detection (the first word before a space) on
``set``."""


def replace_load(platform: str, config: str) -> tuple[str, str]:
    r"""The driver method and the text that load ``config`` as a full-replacement candidate.

    Everywhere ``load_replace_candidate`` with the artifact as it is, except a Junos artifact of ``set``
    commands: PyEZ refuses ``set`` with ``overwrite`` (``<load-configuration action="override">`` takes
    text or XML only), so it is loaded with ``load_merge_candidate`` (``action="set"``, Junos ``load set``)
    after a top-level ``delete``, which empties the candidate (Juniper, *Junos OS CLI User Guide*:
    ``load set`` executes configuration-mode commands line by line; ``delete``: "All subordinate
    statements and identifiers contained within the specified statement path are deleted with it"). The
    candidate then holds exactly the artifact, and the commit replaces the configuration in one step, as
    an override does.

    Examples:
        >>> replace_load("junos", "set system host-name r1\n")
        ('load_merge_candidate', 'delete \nset system host-name r1\n')
        >>> replace_load("junos", "system {\n}\n")[0], replace_load("eos", "set x\n")[0]
        ('load_replace_candidate', 'load_replace_candidate')
    """
    if artifact_format(platform, config) == "set":
        return "load_merge_candidate", _DELETE_ALL + config
    return "load_replace_candidate", config


def render_table() -> str:
    """The Markdown table of ``docs/platforms.md``, section ``## Capabilities`` (a test keeps it in sync)."""
    head = (
        "| platform | full replace | artifact formats | device-side revert (`revert_in`) | timer limits "
        "| needs | commit message | `rollback()` restores | config lock |\n" + "|---" * 9 + "|\n"
    )
    rows = []
    for cap in [*CAPABILITIES.values(), replace(_DEFAULT, platform="(other)")]:
        unit = {0: "-", 1: "seconds", 60: "whole minutes"}[cap.revert_unit]
        rows.append(
            f"| {cap.platform} | {'yes' if cap.replace else 'no'} | {', '.join(cap.replace_formats)} | "
            f"{'yes, ' + unit if cap.revert_timer else 'no'} | {cap.revert_limits} | "
            f"{cap.revert_needs or '-'} | "
            f"{'yes' if cap.commit_message else 'no'} | {cap.rollback_restores} | {cap.config_lock} |"
        )
    return head + "\n".join(rows) + "\n"
