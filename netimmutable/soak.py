"""The soak: how long a change must keep passing its post-checks before it is confirmed.

A change can break a BGP session without taking it down at once: the far end stops receiving keepalives,
yet the session stays Established until its hold timer runs out (measured on the FRR lab: a wrong interface
address confirmed "deployed and verified" in 0.5 s, the session went Idle 9 s later). So after the post-checks
first pass, they must keep passing, every round, for the soak: by default (``auto``) the largest BGP hold
time of the host's sessions, configured or negotiated, as the device reports it, plus ``SOAK_MARGIN``; or a
number of seconds set in ``deploy.soak`` / ``--soak`` (0, no soak, only when asked for).

The device-side revert timer must outlast all of it, or the device reverts while it is still being checked:
``revert_timer_problem`` says when it would not.

Examples:
    >>> detail = {"global": {65002: [{"holdtime": 9, "configured_holdtime": 9}]}}
    >>> max_hold_time(detail)
    9
    >>> soak_for("auto", detail)
    Soak(seconds=11.0, why='the largest BGP hold time, 9s, plus 2s')
    >>> soak_for("auto", {"global": {}}).why
    'no BGP sessions: 2s'
    >>> soak_for(30.0, detail)
    Soak(seconds=30.0, why='deploy.soak / --soak')
    >>> revert_timer_problem(60, settle_timeout=30, soak=11)
    ''
    >>> revert_timer_problem(15, settle_timeout=60, soak=11)[:44]
    'the device-side revert timer (15s) is shorte'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "SOAK_MARGIN",
    "UNKNOWN_HOLD_SOAK",
    "Soak",
    "SoakSetting",
    "max_hold_time",
    "parse_soak",
    "revert_timer_problem",
    "soak_for",
]

SOAK_MARGIN = 2.0
"""Seconds added to the hold time (a keepalive lost just before the hold timer started) and to the checks'
worst case when the revert timer is compared with them."""
SoakSetting = float | Literal["auto"]
UNKNOWN_HOLD_SOAK = 180.0 + SOAK_MARGIN
"""``auto`` for a host with BGP sessions whose driver reports no hold times: the common default hold time."""


@dataclass(frozen=True, slots=True)
class Soak:
    seconds: float
    why: str
    """What the duration comes from, for the progress line and the report."""


def parse_soak(value: Any) -> SoakSetting:
    """``"auto"``, or a number of seconds >= 0 (a string from the command line, or a YAML number).

    >>> parse_soak("auto"), parse_soak("12"), parse_soak(0)
    ('auto', 12.0, 0.0)
    """
    if value == "auto":
        return "auto"
    if isinstance(value, bool):
        raise ValueError(f"soak must be 'auto' or a number of seconds >= 0, got {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"soak must be 'auto' or a number of seconds >= 0, got {value!r}") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"soak must be 'auto' or a number of seconds >= 0, got {value!r}")
    return seconds


def max_hold_time(detail: Mapping[str, Any]) -> int | None:
    """The largest hold time (negotiated or configured) of any session in a NAPALM
    ``get_bgp_neighbors_detail`` answer; None when it has no session."""
    holds: list[int] = []
    for per_as in detail.values():
        if not isinstance(per_as, Mapping):
            continue
        for peers in per_as.values():
            for peer in peers if isinstance(peers, list) else ():
                if isinstance(peer, Mapping):
                    values = [peer.get("holdtime"), peer.get("configured_holdtime")]
                    holds.append(max([int(v) for v in values if isinstance(v, int | float)], default=0))
    return max(holds) if holds else None


def soak_for(setting: SoakSetting, detail: Mapping[str, Any] | None) -> Soak:
    """The soak of one host: the setting, or (``auto``) its largest hold time plus the margin."""
    if setting != "auto":
        return Soak(float(setting), "deploy.soak / --soak")
    hold = max_hold_time(detail) if detail is not None else None
    if hold is None:
        return Soak(SOAK_MARGIN, f"no BGP sessions: {SOAK_MARGIN:g}s")
    return Soak(hold + SOAK_MARGIN, f"the largest BGP hold time, {hold}s, plus {SOAK_MARGIN:g}s")


def revert_timer_problem(revert_in: int | None, *, settle_timeout: float, soak: float) -> str:
    """Why a device-side revert timer of ``revert_in`` seconds cannot cover the checks ('' when it can)."""
    if revert_in is None:
        return ""
    needed = settle_timeout + soak + SOAK_MARGIN
    if revert_in >= needed:
        return ""
    return (
        f"the device-side revert timer ({revert_in}s) is shorter than the settle time ({settle_timeout:g}s) "
        f"plus the soak ({soak:g}s) plus {SOAK_MARGIN:g}s: the device would revert while it is still being "
        f"checked; use --revert-in {int(needed + 0.999)} or more, or a shorter --settle-timeout or --soak"
    )
