"""Process exit codes, the contract with scripts and schedulers (DESIGN.md)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    CHANGES = 3
    """Changes or drift found (render --check, plan, verify)."""
    ROLLED_BACK = 4
    """Verification failed and the devices were rolled back."""
    ROLLBACK_FAILED = 5
    """A rollback failed: a person must act."""
