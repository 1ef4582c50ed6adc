"""What a driver turned out not to implement, remembered for the rest of the run (one CLI command).

Reads only (``REMEMBERED_STEPS``): once a driver answers one of them with ``NotImplementedError``, later calls
are answered at once and the caller routes around them (e.g. comparing through the device when there is no
``get_config``). Calls that take arguments are never remembered: a driver may refuse one form
(``commit_config(message=...)``) and accept another.

Examples:
    >>> remember("acme_os", "get_config"), known_unsupported("acme_os", "get_config")
    (True, True)
    >>> unsupported_steps("acme_os"), remember("acme_os", "commit_config")
    (('get_config',), False)
    >>> forget_unsupported(); unsupported_steps("acme_os")
    ()
"""

from __future__ import annotations

__all__ = ["REMEMBERED_STEPS", "forget_unsupported", "known_unsupported", "remember", "unsupported_steps"]

REMEMBERED_STEPS = frozenset(
    {
        "get_config",
        "get_facts",
        "get_interfaces",
        "get_bgp_neighbors",
        "get_bgp_neighbors_detail",
        "has_pending_commit",
    }
)
_UNSUPPORTED: set[tuple[str, str]] = set()


def remember(driver: str, step: str) -> bool:
    """Note that ``driver`` does not implement ``step``; False (nothing kept) for a step never remembered."""
    if step not in REMEMBERED_STEPS:
        return False
    _UNSUPPORTED.add((driver, step))
    return True


def known_unsupported(driver: str, step: str) -> bool:
    """``driver`` said earlier in this run that it does not implement ``step``."""
    return (driver, step) in _UNSUPPORTED


def unsupported_steps(driver: str) -> tuple[str, ...]:
    """The reads ``driver`` answered with ``NotImplementedError`` so far in this run."""
    return tuple(sorted(step for name, step in _UNSUPPORTED if name == driver))


def forget_unsupported() -> None:
    """Start a new run's memory (the CLI does, after each command)."""
    _UNSUPPORTED.clear()
