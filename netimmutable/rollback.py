"""The one rollback procedure, used by a failed deploy, the ``rollback`` command's window and ``recover``.

    cancel our pending commit (never one of another session) -> full replace with the rollback target when
    the device differs from it -> verify the target the caller's way -> ROLLED_BACK (or REVERTED, when the
    device's own revert timer had already put it back and nothing needed replacing) | ROLLBACK_FAILED

A failure has one meaning wherever it happens: ROLLBACK_FAILED, the device is in no verified state, the caller
keeps the host's lock and leaves it in flight in the journal (exit 5). A refused candidate is discarded before
the error is reported. Journal hooks run before the device is touched and after the last change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from netimmutable.compare import Strategy, compare_running
from netimmutable.errors import CandidateLocked, DeviceError, NetImmutableError, Unsupported
from netimmutable.outcomes import Cause, HostOutcome

__all__ = [
    "REVERT_GRACE",
    "Checked",
    "RollbackDevice",
    "RollbackResult",
    "RollbackTarget",
    "commit_notes_of",
    "pending_commit",
    "roll_back",
    "still_pending",
]

FOREIGN_PENDING = "pending commit of another session"
"""The journal's outcome of a rollback step that found a commit of another session pending (recover reads it:
that commit is never ours to cancel)."""


class RollbackDevice(Protocol):
    """What rolling back needs of a device (``netimmutable.device.Device`` has it)."""

    @property
    def name(self) -> str: ...

    @property
    def platform(self) -> str: ...

    def has_pending_commit(self) -> bool: ...
    def rollback_driver(self) -> None: ...
    def running_config(self) -> str: ...
    def load_replace(self, config: str) -> None: ...
    def compare(self) -> str: ...
    def commit(self, message: str, revert_in: int | None) -> None: ...
    def discard(self) -> None: ...


class Checked(Protocol):
    """A verification's verdict (``checks.PostCheckResult``, ``recover.VerifyResult``)."""

    @property
    def ok(self) -> bool: ...

    @property
    def failures(self) -> tuple[str, ...]: ...


C = TypeVar("C", bound=Checked)


@dataclass(frozen=True, slots=True)
class RollbackTarget:
    config: str
    """Resolved: secrets as their values (only ever sent to or compared with the device)."""
    label: str
    """How people know it: "last-good release 1a2b3c4d5e", "the config captured before the first push"."""


@dataclass(frozen=True, slots=True)
class RollbackResult(Generic[C]):
    outcome: HostOutcome
    """ROLLED_BACK, REVERTED or ROLLBACK_FAILED."""
    detail: str
    """What happened, for the host's message (after the reason the rollback was needed)."""
    cause: Cause = Cause.NONE
    checked: C | None = None
    """The verification of the target (None when the procedure failed before it)."""
    replaced: bool = False
    """The target was pushed (the device differed from it after any pending commit was cancelled)."""
    pending_left: bool = False
    """A commit of ours may still be pending (cancelling it failed): the caller's cleanup tries again."""


def pending_commit(device: RollbackDevice) -> bool:
    """Whether a commit waits for its confirm; a platform without commit-confirm has none (Unsupported)."""
    try:
        return device.has_pending_commit()
    except Unsupported:
        return False


REVERT_GRACE = 60.0
"""Seconds past a run's revert deadline within which a commit still pending may be that run's own (a device
timer firing late: recover waits them out). Beyond them a pending commit is another session's, made after the
run's own commit was reverted: never cancelled, never confirmed (``recover``, and a run's own cleanup)."""


def still_pending(device: RollbackDevice) -> bool:
    """While watching a commit of ours for its revert timer: still pending? A device that cannot say, or
    cannot be asked, is taken to be pending: only a device that says "nothing pending" has reverted."""
    try:
        return device.has_pending_commit()
    except NetImmutableError:  # Unsupported and connection errors alike
        return True


def commit_notes_of(device: object) -> tuple[str, ...]:
    """What the device's driver said its last commit did beyond the usual path (``Device.commit_notes``:
    e.g. the frr driver's fallback when frr-reload.py could not delete a block); () when it says nothing."""
    notes = getattr(device, "commit_notes", ())
    return tuple(str(note) for note in notes) if isinstance(notes, tuple | list) else ()


def roll_back(
    device: RollbackDevice,
    target: RollbackTarget,
    verify: Callable[[], C],
    *,
    pending_is_ours: bool,
    commit_message: str,
    extra: Sequence[str] = (),
    reverted_by_device: bool = False,
    before: Callable[[], None] = lambda: None,
    after: Callable[[str], None] = lambda _outcome: None,
    strategy: Strategy = Strategy.TEXT,
    secrets: Mapping[str, str] | None = None,
) -> RollbackResult[C]:
    """Put ``device`` back on ``target`` and prove it with ``verify`` (see the module docstring).

    ``pending_is_ours``: a commit pending on the device is this run's (cancel it); otherwise a pending commit
    belongs to another session: nothing is touched and a person must act. ``reverted_by_device``: the caller
    saw the device's revert timer fire; the host ends REVERTED when the device is on the target by itself.
    Device errors are results, never exceptions; ``before``/``after`` may raise (journal not writable).
    """
    before()
    notes: tuple[str, ...] = ()
    replaced = False
    pending_left = pending_is_ours
    try:
        if pending_commit(device):
            if not pending_is_ours:
                after(FOREIGN_PENDING)
                return RollbackResult(
                    HostOutcome.ROLLBACK_FAILED,
                    "a commit from another session is pending confirmation on the device; it was not touched "
                    "and nothing was rolled back: a person must act",
                    Cause.PENDING_COMMIT,
                )
            device.rollback_driver()  # cancels our pending commit: back to the pre-commit config
            notes = commit_notes_of(device)
        pending_left = False
        if not compare_running(device, target.config, strategy, extra, secrets=secrets).equal:
            try:
                device.load_replace(target.config)
                device.commit(commit_message, None)
                notes = (*notes, *commit_notes_of(device))
            except CandidateLocked:
                raise  # another session holds the candidate: nothing of ours to discard (theirs stays)
            except NetImmutableError as exc:
                try:  # a refused load may leave a candidate: never leave one behind silently
                    device.discard()
                except NetImmutableError as left:
                    raise DeviceError(
                        f"{exc.message}; discarding the candidate failed too ({left.message}): it may "
                        "still be loaded on the device",
                        host=exc.host,
                    ) from exc
                raise
            replaced = True
    except NetImmutableError as exc:
        after(exc.message)
        return RollbackResult(
            HostOutcome.ROLLBACK_FAILED,
            f"rollback failed: {exc.message}; the device needs a person",
            pending_left=pending_left,
        )
    after("ok")
    try:
        checked = verify()
    except NetImmutableError as exc:
        return RollbackResult(
            HostOutcome.ROLLBACK_FAILED,
            f"the rollback could not be verified: {exc.message}",
            replaced=replaced,
        )
    how = "rolled back to" if replaced or not reverted_by_device else "back on"
    if not checked.ok:
        return RollbackResult(
            HostOutcome.ROLLBACK_FAILED,
            f"{how} {target.label}, but its verification failed: " + "; ".join(checked.failures),
            Cause.CHECKS,
            checked,
            replaced,
        )
    outcome = HostOutcome.REVERTED if reverted_by_device and not replaced else HostOutcome.ROLLED_BACK
    said = "".join(f"; {note}" for note in notes)
    return RollbackResult(outcome, f"{how} {target.label} and verified{said}", Cause.NONE, checked, replaced)
