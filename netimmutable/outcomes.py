"""The one vocabulary of how a host ends a run, and why: used by deploy, rollback and recover output, run
records, ``history``, ``status`` and the JSON schemas (the table in docs/change-window.md).

A leaf module: it imports nothing of netimmutable.

Examples:
    >>> HostOutcome.DEPLOYED.ok, HostOutcome.ROLLED_BACK.ok, HostOutcome.ROLLBACK_FAILED.unsettled
    (True, False, True)
    >>> HostOutcome.parse("confirmed"), HostOutcome.parse("already-back"), HostOutcome.parse("?")
    (<HostOutcome.DEPLOYED: 'deployed'>, <HostOutcome.REVERTED: 'reverted'>, <HostOutcome.UNKNOWN: 'unknown'>)
    >>> Cause.parse("drift"), Cause.parse("no such cause")
    (<Cause.DRIFT: 'drift'>, <Cause.NONE: ''>)
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Cause", "HostOutcome"]


class HostOutcome(StrEnum):
    """How one host ended a run; every host a run targets ends in exactly one."""

    DEPLOYED = "deployed"
    """The new release was pushed, verified (soak included), confirmed and recorded good."""
    UNCHANGED = "unchanged"
    """Nothing to push: the running config was verified equal to the release and recorded good."""
    ROLLED_BACK = "rolled-back"
    """The change failed; netimmutable put the rollback target back and verified it."""
    REVERTED = "reverted"
    """The device's own revert timer put its pre-commit config back (or recover found it back); verified."""
    ROLLBACK_FAILED = "rollback-failed"
    """A rollback was needed and did not verify: the device is in no verified state (lock, journal kept)."""
    REFUSED = "refused"
    """A check refused the host before any change (drift, a stale plan, a too-short revert timer, a pending
    commit of someone else); the device was not touched."""
    UNREACHABLE = "unreachable"
    """The device could not be reached before any change; not touched."""
    FAILED = "failed"
    """A device error before any change (candidate refused, checks failing with nothing to change); the device
    runs what it ran before."""
    SKIPPED = "skipped"
    """Not attempted (the window stopped: failure budget, canary, Ctrl-C)."""
    UNKNOWN = "unknown"
    """The device's state could not be established (unreachable after a change): lock and journal kept for
    ``netimmutable recover``."""

    @property
    def ok(self) -> bool:
        """The host runs the release, verified."""
        return self in (HostOutcome.DEPLOYED, HostOutcome.UNCHANGED)

    @property
    def unsettled(self) -> bool:
        """The device is in no verified state: it stays in flight in the journal, its lock kept (exit 5)."""
        return self in (HostOutcome.UNKNOWN, HostOutcome.ROLLBACK_FAILED)

    @property
    def put_back(self) -> bool:
        """The change was undone and the device verified on its rollback target (exit 4)."""
        return self in (HostOutcome.ROLLED_BACK, HostOutcome.REVERTED)

    @property
    def is_failure(self) -> bool:
        return self not in (HostOutcome.DEPLOYED, HostOutcome.UNCHANGED, HostOutcome.SKIPPED)

    @classmethod
    def parse(cls, value: str) -> HostOutcome:
        """A stored value; the words of older records too (``confirmed``, ``failed-before-change``,
        ``already-back``); anything else is UNKNOWN."""
        try:
            return cls(_LEGACY.get(value, value))
        except ValueError:
            return cls.UNKNOWN


_LEGACY = {"confirmed": "deployed", "failed-before-change": "failed", "already-back": "reverted"}


class Cause(StrEnum):
    """Why a host ended as it did, when its outcome alone does not say (``NONE`` when nothing more to say)."""

    NONE = ""
    DRIFT = "drift"
    """The running config differs from the last-good release (``--force-drift`` overrides)."""
    PLAN = "plan"
    """The device changed since the saved plan was made."""
    PENDING_COMMIT = "pending-commit"
    """A commit of another session is pending confirmation on the device."""
    TIMER = "timer"
    """The revert timer is shorter than settle time + soak + margin."""
    UNREACHABLE = "unreachable"
    """The device could not be reached (or the session broke)."""
    REJECTED = "rejected"
    """The device refused the candidate or the commit."""
    PREFLIGHT = "preflight"
    """Refused before any change: a prerequisite of a full replacement on the platform is missing (IOS
    ``archive``, NX-OS ``feature scp-server``...), or another session holds the device's candidate."""
    CHECKS = "checks"
    """The post-checks (convergence, expectations, regressions, soak) failed."""
    REVERT_TIMER = "revert-timer"
    """The device's revert timer fired before the change was confirmed."""
    INTERRUPTED = "interrupted"
    """Ctrl-C."""
    NOT_ATTEMPTED = "not-attempted"
    """The window stopped before this host (failure budget, canary)."""
    ROLLBACK_ALL = "rollback-all"
    """Put back by the window's ``rollback-all`` policy after another host failed."""
    RECORD = "record"
    """Verified, but recording it good failed (the run exits 1)."""
    JOURNAL = "journal"
    """The journal could not be written before the change (nothing was done)."""
    LEASE = "lease"
    """This run lost the host's lease on the records remote (or could not renew it before its expiry): it
    did not act on the device any more; another clone's ``recover`` or the device's revert timer does."""
    WORKER_LOST = "worker-lost"
    """The cluster worker running the host died mid-run (``deploy --cluster``): the host is never run again
    blindly; its journal and device lock are kept for ``netimmutable recover``."""
    INTERNAL = "internal"
    """A bug in netimmutable (reported with a traceback in the log)."""

    @property
    def stops_nothing(self) -> bool:
        """Hosts ending with this cause do not count against the window's failure budget."""
        return self in (Cause.NOT_ATTEMPTED, Cause.INTERRUPTED)

    @classmethod
    def parse(cls, value: str) -> Cause:
        try:
            return cls(value)
        except ValueError:
            return cls.NONE
