"""Recovering runs that stopped mid-change (SIGKILL, power loss, lost terminal).

For every in-flight host of an unfinished journal (see ``netimmutable.journal``) the device is inspected:
pending commit? running config (normalized, secrets resolved) equal to the release's artifact, or to the
rollback target the journal names? Then exactly one of:

- the journal says the run had begun rolling the host back -> the rollback is completed, never turned into a
  confirm (``netimmutable.rollback``, the procedure a deploy uses) -> ROLLED_BACK | ROLLBACK_FAILED;
- on the new artifact and **every post-check passes again** (through the ``Verifier`` callback, by default
  ``checks.post_check``: convergence, expectations, regressions against the pre-change state the journal
  kept, and the soak the change had) -> confirm a pending commit, record the release good -> DEPLOYED;
  a failing check -> rolled back as above;
- on the rollback target -> confirm any pending commit (it keeps the target), verify -> REVERTED;
- anything else that this run may have caused (a commit or rollback was begun, or a commit is pending) ->
  cancel the pending commit, full replace with the rollback target, verify -> ROLLED_BACK;
- otherwise (unreachable, no rollback target known, the target itself fails its checks, the device runs a
  config this run did not put there) -> UNKNOWN (or ROLLBACK_FAILED) with instructions; the device lock is
  kept and the host stays in flight.

Nothing is recorded good without verification. Each recovery writes its own journal and a ``recover`` run
record; hosts it settles are finished in the dead run's journal, which is closed when nothing is left.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import git
from nornir.core.inventory import Host

from netimmutable.checks import (
    ChangeScope,
    CheckTarget,
    StateSnapshot,
    change_scope,
    post_check,
)
from netimmutable.compare import Strategy, compare_running, strategy_for
from netimmutable.connections import driver_name, prepare_hosts
from netimmutable.deploy_gate import expectations_required
from netimmutable.errors import (
    ConnectError,
    InputError,
    LeaseError,
    LeaseHeld,
    NetImmutableError,
    Unsupported,
)
from netimmutable.exitcodes import ExitCode
from netimmutable.inventory import LoadedInventory
from netimmutable.journal import InFlight, Journal, Step, UnfinishedRun, unfinished_runs
from netimmutable.locks import Lock, device_lock, list_locks, repo_lock
from netimmutable.outcomes import Cause, HostOutcome
from netimmutable.records import HostRecord, Records, RunRecord, new_run_id, utc_now
from netimmutable.repo import NetworkRepo
from netimmutable.rollback import (
    FOREIGN_PENDING,
    REVERT_GRACE,
    RollbackTarget,
    pending_commit,
    roll_back,
    still_pending,
)
from netimmutable.secrets import Secrets
from netimmutable.soak import SOAK_MARGIN
from netimmutable.trust import GoodTrust
from netimmutable.utctime import parse_utc

__all__ = [
    "HostRecovery",
    "RecoverDevice",
    "RecoveryReport",
    "UnfinishedRunError",
    "Verifier",
    "VerifyRequest",
    "VerifyResult",
    "check_unfinished",
    "default_verifier",
    "forget",
    "recover",
]


class UnfinishedRunError(NetImmutableError):
    """A run stopped mid-change; ``netimmutable recover`` must settle its devices first."""


class RecoverDevice(Protocol):
    """The part of ``netimmutable.device.Device`` recovery uses (plus what ``checks.post_check`` reads)."""

    name: str
    platform: str

    def running_config(self) -> str: ...
    def compare(self) -> str: ...
    def has_pending_commit(self) -> bool: ...
    def confirm(self) -> None: ...
    def rollback_driver(self) -> None: ...
    def load_replace(self, config: str) -> None: ...
    def discard(self) -> None: ...
    def commit(self, message: str, revert_in: int | None) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """What to verify: ``config`` is resolved (secrets as values), ``expectations`` the release's."""

    device: RecoverDevice
    host: str
    config: str
    expectations: str | None
    label: str
    expectations_required: bool = False
    """The release configures expectations for the host: a missing or empty file fails (as in a deploy)."""
    pre_state: StateSnapshot | None = None
    """The device's state before the change, as the journal kept it: regressions are checked against it."""
    scope: ChangeScope = field(default_factory=ChangeScope)
    """What the change touched (interfaces and BGP peers it may legitimately change)."""
    soak: float = 0.0
    """Seconds the checks must keep holding once they pass (the change's soak; 0 for a rollback target)."""
    still_pending: Callable[[], bool] | None = None
    """For a pending commit of the run: asked before every round; False means the device's timer fired."""
    strategy: Strategy = Strategy.TEXT
    """How running is compared with ``config`` on this device (``netimmutable.compare``)."""
    secrets: Mapping[str, str] | None = None
    """The run's resolved secrets, for the comparison (``netimmutable.secretforms``)."""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    failures: tuple[str, ...] = ()
    reverted: bool = False
    """The device's revert timer fired while verifying (``still_pending`` said so): the checks stopped."""


Verifier = Callable[[VerifyRequest], VerifyResult]


def default_verifier(repo: NetworkRepo) -> Verifier:
    """Post-checks as a deploy runs them: convergence, then expectations and regressions against the
    journaled pre-change state polled until the settle time, then the soak."""
    policy = repo.settings.deploy

    def verify(request: VerifyRequest) -> VerifyResult:
        target = CheckTarget(
            request.config,
            request.expectations,
            request.expectations is not None or request.expectations_required,
            request.label,
        )
        result = post_check(
            request.device,  # type: ignore[arg-type]  # a Device is a StateDevice too
            target,
            request.pre_state,
            request.scope,
            settle_timeout=policy.settle_timeout,
            settle_interval=policy.settle_interval,
            extra=repo.settings.ignore_lines,
            soak=request.soak,
            still_pending=request.still_pending,
            strategy=request.strategy,
            secrets=request.secrets,
        )
        return VerifyResult(result.ok, result.failures, result.reverted)

    return verify


@dataclass(frozen=True, slots=True)
class HostRecovery:
    run_id: str
    host: str
    outcome: HostOutcome
    message: str
    instructions: str = ""
    cause: Cause = Cause.NONE
    """Why it ended so, in the one vocabulary of deploy and rollback (``netimmutable.outcomes.Cause``)."""


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    recover_run: str | None
    runs: tuple[str, ...]
    """The unfinished runs that were looked at."""
    hosts: tuple[HostRecovery, ...]
    closed_runs: tuple[str, ...]
    record_sha: str | None = None

    @property
    def exit_code(self) -> ExitCode:
        outcomes = {h.outcome for h in self.hosts}
        if any(o.unsettled for o in outcomes):
            return ExitCode.ROLLBACK_FAILED
        return ExitCode.ROLLED_BACK if HostOutcome.ROLLED_BACK in outcomes else ExitCode.OK


def check_unfinished(repo: NetworkRepo) -> None:
    """Refuse to start a run while an earlier one is unfinished (call at the start of every run)."""
    runs = [r for r in unfinished_runs(repo) if r.hosts]
    if not runs:
        return
    first = runs[0]
    hosts = ", ".join(h.host for h in first.hosts)
    more = f" (and {len(runs) - 1} more run(s))" if len(runs) > 1 else ""
    raise UnfinishedRunError(
        f"run {first.run_id} ({first.kind}) of {first.user} stopped mid-change on {hosts}{more}",
        file=str(first.journal),
        hint="`netimmutable recover` inspects those devices and confirms, rolls back or reports them",
    )


# --------------------------------------------------------------------------------------- one host
class _Host:
    """Recovery of one in-flight host."""

    def __init__(
        self,
        flight: InFlight,
        device: RecoverDevice,
        records: Records,
        secrets: Secrets,
        verify: Verifier,
        journal: Journal,
        recover_id: str,
        extra: Sequence[str],
        new_expect_required: bool = False,
        settle_timeout: float = 0.0,
        strategy: Strategy = Strategy.TEXT,
        fence: Callable[[], str] = lambda: "",
    ) -> None:
        self.f, self.dev, self.records, self.secrets = flight, device, records, secrets
        self.strategy = strategy
        self.fence = fence
        """Why this recovery must no longer act on the device ("" while it may): its lease was lost or not
        renewed (``netimmutable.leases.LeaseSet.problem``); asked before every change and confirm."""
        self.verify, self.journal, self.recover_id, self.extra = verify, journal, recover_id, extra
        self.new_expect_required = new_expect_required
        self.settle_timeout = settle_timeout
        # a pending commit is the run's own only when the run committed with a revert timer, and its last
        # rollback did not find a commit of another session pending
        self.ours = flight.revert_in is not None and flight.step_outcome != FOREIGN_PENDING
        self.notes: list[str] = []
        self.new = records.artifact(flight.release, flight.host) if flight.release else None
        self.new_expect = records.expectations(flight.release, flight.host) if flight.release else None
        self.target, self.target_expect, self.target_label = self._target()

    def _target(self) -> tuple[str | None, str | None, str]:
        f, rec = self.f, self.records
        if f.rollback_release:
            label = f"last-good release {f.rollback_release[:10]}"
            return (
                rec.artifact(f.rollback_release, f.host),
                rec.expectations(f.rollback_release, f.host),
                label,
            )
        if f.rollback_blob:
            return rec.read_blob(f.rollback_blob), None, "the config captured before the first deployment"
        good = rec.last_good(f.host)
        if good is not None and good.run_id != f.run_id and good.release != f.release:
            untrusted = GoodTrust(rec.repo, rec.git, rec).problem(good)
            if untrusted is not None:  # never roll a device back to a ref anyone could have moved
                return (
                    None,
                    None,
                    f"no rollback target is known (the last-good record is not trusted: {untrusted})",
                )
            label = f"last-good release {good.release[:10]}"
            return rec.artifact(good.release, f.host), rec.expectations(good.release, f.host), label
        return None, None, "no rollback target is known"

    def _before(self, step: Step, reason: str = "") -> None:
        """Journal a step of the recovery with everything a later recovery needs, should this one die."""
        f = self.f
        self.journal.before(
            f.host,
            step,
            release=f.release,
            rollback_release=f.rollback_release,
            rollback_blob=f.rollback_blob,
            recovering=f.run_id,
            reason=reason,
        )

    def _on(self, config: str | None, running: str | None = None) -> bool:
        """Does the device run ``config`` (compared the way the host's strategy says)?"""
        if config is None:
            return False
        resolved = self.secrets.resolve(config)
        return compare_running(
            self.dev, resolved, self.strategy, self.extra, running=running, secrets=self.secrets.resolved
        ).equal

    def _running(self) -> str | None:
        """The running config, or None when the driver cannot read it (the comparison asks the device)."""
        try:
            return self.dev.running_config()
        except Unsupported:
            if self.strategy is Strategy.TEXT:
                raise
            return None

    def _result(
        self, outcome: HostOutcome, message: str, instructions: str = "", cause: Cause = Cause.NONE
    ) -> HostRecovery:
        text = "; ".join([message, *self.notes])
        masked = self.secrets.mask(text)
        return HostRecovery(self.f.run_id, self.f.host, outcome, masked, instructions, cause)

    def _pre_state(self) -> StateSnapshot | None:
        """The pre-change state the journal kept (None for an older journal, or one that cannot be read)."""
        if not self.f.pre_state:
            return None
        try:
            return StateSnapshot.from_dict(json.loads(self.f.pre_state))
        except (ValueError, InputError):
            note = "the journaled pre-change state could not be read: no regression check"
            if note not in self.notes:
                self.notes.append(note)
            return None

    def run(self) -> HostRecovery:
        f, dev = self.f, self.dev
        for attempt in range(2):
            pending = self._pending_now()
            if pending and not self.ours:
                return self._foreign()
            if attempt == 0 and "rollback" in f.steps:
                # the run had decided (its checks failed, or a rollback command ran): finish what it began,
                # never confirm; without a known target that is for a person (_roll_back says so)
                return self._roll_back(
                    f"run {f.run_id} had begun rolling it back (journal): completing the rollback"
                )
            running = self._running()
            if self._on(self.new, running):
                return self._on_new(pending)
            if self._on(self.target, running):
                return self._on_target(pending)
            if pending:  # the run's commit (or a rollback's) waits for a confirm: cancel it, look again
                if (fenced := self._fenced("cancelled")) is not None:
                    return fenced
                self._before("rollback", reason="cancel pending commit")
                dev.rollback_driver()
                self.journal.after(f.host, "rollback", "ok")
                continue
            break
        return self._on_neither()

    def _on_neither(self) -> HostRecovery:
        """The device runs neither release: someone else's change if the run never committed, else put the
        rollback target back."""
        f = self.f
        if not f.committed:
            return self._result(
                HostOutcome.UNKNOWN,
                f"the device runs neither release {(f.release or '?')[:10]} nor {self.target_label}, "
                f"and run {f.run_id} never committed on it: someone else changed it",
                "compare it with `netimmutable verify --limit HOST`, fix it, then "
                "`netimmutable recover --forget HOST`",
                Cause.DRIFT,
            )
        return self._roll_back("it runs neither the new release nor the rollback target")

    def _request(self, config: str, label: str, *, new: bool) -> VerifyRequest:
        """Verify ``config`` as the deploy would have: for the new release with its expectations, the change's
        scope and soak; for the rollback target with its own expectations; both against the pre-state."""
        if new:
            scope = change_scope(self.secrets.resolve(self.target or ""), self.secrets.resolve(config))
            return VerifyRequest(
                self.dev,
                self.f.host,
                self.secrets.resolve(config),
                self.new_expect,
                label,
                self.new_expect_required,
                self._pre_state(),
                scope if self.target is not None else ChangeScope(),
                self.f.soak or 0.0,
                strategy=self.strategy,
                secrets=self.secrets.resolved,
            )
        return VerifyRequest(
            self.dev,
            self.f.host,
            self.secrets.resolve(config),
            self.target_expect,
            label,
            False,
            self._pre_state(),
            strategy=self.strategy,
            secrets=self.secrets.resolved,
        )

    def _time_left(self) -> float | None:
        """Seconds until the run's revert timer fires (None when the journal names no deadline)."""
        if not self.f.revert_deadline_utc:
            return None
        try:
            due = parse_utc(self.f.revert_deadline_utc)
        except ValueError:
            return None
        return (due - dt.datetime.now(dt.UTC)).total_seconds()

    def _pending_now(self) -> bool:
        """Is a commit pending on the device now? A commit of the run's own that looks pending after its
        revert deadline gets the grace to fire; one still pending beyond it is not the run's (``self.ours``
        becomes False: it is never cancelled nor confirmed)."""
        pending = pending_commit(self.dev)
        if pending and self.ours:
            pending = self._wait_out_a_late_timer()
            self.ours = not (pending and self._past_deadline())
        return pending

    def _foreign(self) -> HostRecovery:
        """A commit pending on the device is not the run's: neither confirmed nor cancelled, for a person."""
        f = self.f
        return self._result(
            HostOutcome.UNKNOWN,
            "a commit of another session is pending confirmation on the device; "
            f"run {f.run_id} did not make it"
            + (f" (its own revert timer was due {f.revert_deadline_utc})" if self._past_deadline() else "")
            + ", so it is neither confirmed nor cancelled",
            "let that session confirm or cancel it, then `netimmutable recover` again",
            Cause.PENDING_COMMIT,
        )

    def _fenced(self, undone: str) -> HostRecovery | None:
        """The lease is lost or about to expire: the device is left as it is (``undone`` says what this
        recovery does not do), UNKNOWN with cause ``lease``; None while the recovery may act."""
        why = self.fence()
        if not why:
            return None
        return self._result(
            HostOutcome.UNKNOWN,
            f"{why}: not {undone} by this recovery; left to the device's revert timer or the lease's holder",
            "once the lease is free, `netimmutable recover` again",
            Cause.LEASE,
        )

    def _past_deadline(self) -> bool:
        """Is the run's revert deadline more than ``REVERT_GRACE`` behind us (its timer must have fired)?"""
        left = self._time_left()
        return left is not None and left <= -REVERT_GRACE

    def _wait_out_a_late_timer(self) -> bool:
        """The run's commit looks pending although its deadline has passed: give the device's timer the grace
        to fire, then ask again. Whether a commit is still pending."""
        left = self._time_left()
        if left is not None and -REVERT_GRACE < left <= 0:
            self.notes.append(f"waited {left + REVERT_GRACE:.0f}s for a revert timer overdue by {-left:.0f}s")
            time.sleep(left + REVERT_GRACE)
            return pending_commit(self.dev)
        return True

    def _on_new(self, pending: bool) -> HostRecovery:
        f = self.f
        assert self.new is not None  # noqa: S101 - _on() was true
        left = self._time_left() if pending else None
        need = self.settle_timeout + (f.soak or 0.0) + SOAK_MARGIN
        if left is not None and left < need:  # the timer would fire while we check: never race it
            return self._roll_back(
                f"its revert timer is due in {max(left, 0):.0f}s, less than the checks need ({need:.0f}s): "
                "not confirmed",
                Cause.TIMER,
            )
        request = self._request(self.new, "artifact", new=True)
        if pending:
            request = replace(request, still_pending=lambda: still_pending(self.dev))
        checked = self.verify(request)
        if checked.reverted or (pending and not pending_commit(self.dev)):
            return self._after_revert()
        if not checked.ok:
            why = "it runs the new release but the post-checks fail: " + "; ".join(checked.failures)
            return self._roll_back(why, Cause.CHECKS)
        if (fenced := self._fenced("confirmed" if pending else "recorded good")) is not None:
            return fenced
        if pending:
            self._before("confirm")
            self.dev.confirm()
            self.journal.after(f.host, "confirm", "ok")
            if not self._on(self.new):  # the timer fired just before it
                return self._after_revert()
        assert f.release is not None  # noqa: S101 - self.new exists
        self.records.mark_good(f.host, f.release, self.recover_id)
        done = "confirmed the pending commit; " if pending else ""
        soaked = f", held {f.soak:g}s of soak" if f.soak else ""
        return self._result(
            HostOutcome.DEPLOYED, f"{done}release {f.release[:10]} verified{soaked} and recorded good"
        )

    def _after_revert(self) -> HostRecovery:
        """The device's revert timer fired while recover checked: prove it back on the target."""
        if self._on(self.target):
            return self._on_target(pending=False, cause=Cause.REVERT_TIMER)
        return self._roll_back(
            "its revert timer fired while it was checked, and it runs neither release", Cause.REVERT_TIMER
        )

    def _on_target(self, pending: bool, cause: Cause | None = None) -> HostRecovery:
        """The device runs the rollback target: prove it. ``cause`` defaults to the revert timer when the run
        had committed with one that is no longer pending (the device put the target back itself)."""
        f = self.f
        if cause is None:
            cause = Cause.REVERT_TIMER if f.committed and f.revert_in and not pending else Cause.NONE
        assert self.target is not None  # noqa: S101 - _on() was true
        if pending and (fenced := self._fenced("confirmed")) is not None:
            return fenced
        if pending:  # a commit of the target itself (a rollback) waits: confirming keeps the target
            self._before("confirm", reason="keep the rollback target")
            self.dev.confirm()
            self.journal.after(f.host, "confirm", "ok")
        checked = self.verify(self._request(self.target, "rollback target", new=False))
        if not checked.ok:
            return self._result(
                HostOutcome.ROLLBACK_FAILED,
                f"back on {self.target_label} but its checks fail: {'; '.join(checked.failures)}",
                "a person must look at the device; then `netimmutable recover --forget HOST`",
                Cause.CHECKS,
            )
        return self._result(HostOutcome.REVERTED, f"back on {self.target_label}, verified", cause=cause)

    def _roll_back(self, why: str, cause: Cause = Cause.NONE) -> HostRecovery:
        if self.target is None:
            return self._result(
                HostOutcome.UNKNOWN,
                f"{why}; and {self.target_label}",
                "push a known-good release by hand: `netimmutable rollback HOST --to REV`",
                cause,
            )
        if (fenced := self._fenced("rolled back")) is not None:
            return fenced
        target = self.target
        done = roll_back(
            self.dev,
            RollbackTarget(self.secrets.resolve(target), self.target_label),
            lambda: self.verify(self._request(target, "rollback target", new=False)),
            pending_is_ours=self.ours,  # never cancel a commit of another session
            commit_message=f"netimmutable recover {self.recover_id}: back to {self.target_label}",
            extra=self.extra,
            before=lambda: self._before("rollback", reason=why[:200]),
            after=lambda outcome: self.journal.after(self.f.host, "rollback", outcome[:200]),
            strategy=self.strategy,
            secrets=self.secrets.resolved,
        )
        instructions = (
            "a person must look at the device; then `netimmutable recover --forget HOST`"
            if done.outcome.unsettled
            else ""
        )
        cause = done.cause if done.cause is Cause.PENDING_COMMIT else cause
        return self._result(done.outcome, f"{why}; {done.detail}", instructions, cause)


def _fence_of(lock: Lock, host: str) -> Callable[[], str]:
    """Why the recovery must stop acting on ``host`` ("" while its lease holds; always "" without one)."""
    lease = lock.lease
    return (lambda: lease.problem(host)) if lease is not None else (lambda: "")


# ------------------------------------------------------------------------------------------- runs
def _open_default(host: Host) -> RecoverDevice:
    from netimmutable.device import Device

    return Device.open(host)


def recover(
    repo: NetworkRepo,
    gitrepo: git.Repo,
    loaded: LoadedInventory,
    *,
    hosts: Collection[str] = (),
    verifier: Verifier | None = None,
    open_device: Callable[[Host], RecoverDevice] | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> RecoveryReport:
    """Settle every in-flight host of every unfinished run (only ``hosts`` when given)."""
    runs = unfinished_runs(repo)
    if not runs:
        return RecoveryReport(None, (), (), ())
    records = Records(repo, gitrepo)
    verify = verifier or default_verifier(repo)
    opener = open_device or _open_default
    recover_id = new_run_id()
    started = utc_now()
    results: list[HostRecovery] = []
    dead = {r.run_id for r in runs}
    with (
        repo_lock(repo, recover_id, "recover", takeover=dead),
        Journal.open(repo, recover_id, kind="recover") as journal,
    ):
        secrets = Secrets(repo)
        for run in runs:
            original = Journal.attach(repo, run.run_id)
            try:
                for flight in run.hosts:
                    if hosts and flight.host not in hosts:
                        continue
                    progress(f"{flight.host}: recovering run {run.run_id} (last step: {flight.step})")
                    outcome = _recover_host(
                        repo, gitrepo, loaded, flight, records, secrets, verify, journal, recover_id, opener
                    )
                    results.append(outcome)
                    progress(f"{flight.host}: {outcome.outcome}: {outcome.message}")
                    if not outcome.outcome.unsettled:
                        original.finish(flight.host, f"recovered by {recover_id}: {outcome.outcome}")
                        journal.finish(flight.host, str(outcome.outcome))

            finally:
                original.abandon()
        closed = _close_settled(repo, runs, recover_id)
    record_sha = None
    if results:
        release = next((r.release for r in runs if r.release), None)
        record = RunRecord(
            run_id=recover_id,
            kind="recover",
            release=release,
            started_utc=started,
            ended_utc=utc_now(),
            operator=records.operator(),
            hosts=tuple(
                HostRecord(h.host, h.outcome, h.message, release=release, cause=h.cause) for h in results
            ),
            message="recovery of run(s) " + ", ".join(sorted(dead)),
        )
        record_sha = records.write_run(record, {})
    return RecoveryReport(recover_id, tuple(sorted(dead)), tuple(results), closed, record_sha)


def _recover_host(
    repo: NetworkRepo,
    gitrepo: git.Repo,
    loaded: LoadedInventory,
    flight: InFlight,
    records: Records,
    secrets: Secrets,
    verify: Verifier,
    journal: Journal,
    recover_id: str,
    opener: Callable[[Host], RecoverDevice],
) -> HostRecovery:
    host = loaded.inventory.hosts.get(flight.host)
    if host is None:
        return HostRecovery(
            flight.run_id,
            flight.host,
            HostOutcome.UNKNOWN,
            "the host is no longer in the inventory",
            "put it back in the inventory, or check it by hand and `netimmutable recover --forget HOST`",
        )
    lock = device_lock(repo, flight.host, flight.run_id, f"recover {recover_id}", takeover={flight.run_id})
    try:
        lock.acquire()
    except NetImmutableError as exc:
        cause = Cause.LEASE if isinstance(exc, LeaseHeld | LeaseError) else Cause.NONE
        return HostRecovery(
            flight.run_id, flight.host, HostOutcome.UNKNOWN, exc.message, exc.hint or "", cause
        )
    try:
        prepare_hosts(repo, [host])
        try:
            device = opener(host)
        except NetImmutableError as exc:
            deadline = (
                f" (its revert timer was due {flight.revert_deadline_utc})"
                if flight.revert_deadline_utc
                else ""
            )
            outcome = HostRecovery(
                flight.run_id,
                flight.host,
                HostOutcome.UNKNOWN,
                f"cannot reach the device: {exc.message}{deadline}",
                "run `netimmutable recover` again once the device is reachable",
                Cause.UNREACHABLE,
            )
        else:
            try:
                if flight.device_session:  # EOS: only the committing session can confirm or cancel it
                    adopt = getattr(device, "adopt_session", None)
                    if callable(adopt):
                        adopt(flight.device_session)
                required = _expectations_required(repo, gitrepo, flight.release, host)
                outcome = _Host(
                    flight,
                    device,
                    records,
                    secrets,
                    verify,
                    journal,
                    recover_id,
                    repo.settings.ignore_lines,
                    required,
                    repo.settings.deploy.settle_timeout,
                    strategy_for(driver_name(host), repo.settings.compare_overrides()),
                    fence=_fence_of(lock, flight.host),
                ).run()
            except NetImmutableError as exc:
                outcome = HostRecovery(
                    flight.run_id,
                    flight.host,
                    HostOutcome.UNKNOWN,
                    secrets.mask(f"recovery failed: {exc.message}"),
                    exc.hint
                    or "check the device by hand, then `netimmutable recover` again (or `--forget HOST`)",
                    Cause.UNREACHABLE if isinstance(exc, ConnectError) else Cause.NONE,
                )
            finally:
                device.close()
    except BaseException:
        lock.keep("recovery was interrupted")
        raise
    if outcome.outcome.unsettled:
        lock.keep(f"{outcome.outcome.value} after recovery {recover_id}: {outcome.message[:120]}")
    lock.release()
    return outcome


def _expectations_required(repo: NetworkRepo, gitrepo: git.Repo, release: str | None, host: Host) -> bool:
    """Whether ``release`` configures expectations for ``host`` (unreadable: assume it does)."""
    if not release:
        return False
    try:
        return expectations_required(repo, gitrepo, release, host)
    except Exception:  # noqa: BLE001 - a release git cannot read proves nothing: ask for expectations
        return True


def _close_settled(repo: NetworkRepo, runs: Sequence[UnfinishedRun], recover_id: str) -> tuple[str, ...]:
    """Close the journals of runs with nothing left in flight and remove their leftover (stale) locks."""
    left = {r.run_id: r for r in unfinished_runs(repo)}
    closed: list[str] = []
    for run in runs:
        remaining = left.get(run.run_id)
        if remaining is not None and remaining.hosts:
            continue
        if remaining is not None and not remaining.closed:
            Journal.attach(repo, run.run_id).close(by=recover_id)
        closed.append(run.run_id)
        for held in list_locks(repo):
            if held.info is not None and held.info.run_id == run.run_id and held.info.stale:
                held.path.unlink(missing_ok=True)
    return tuple(closed)


def forget(repo: NetworkRepo, host: str, who: str) -> list[str]:
    """A person checked ``host`` by hand: finish it in every unfinished run and drop its kept lock."""
    touched: list[str] = []
    for run in unfinished_runs(repo):
        if any(h.host == host for h in run.hosts):
            journal = Journal.attach(repo, run.run_id)
            journal.finish(host, f"forgotten by {who}")
            if not run.closed and len(run.hosts) == 1:
                journal.close(by=who)
            else:
                journal.abandon()
            touched.append(run.run_id)
    for held in list_locks(repo):
        if held.path.name == f"device-{host}.lock" and (held.info is None or held.info.stale):
            held.path.unlink(missing_ok=True)
    return touched
