"""The per-host pipeline of a change window: pre-checks, push, post-checks, confirm or roll back.

One call of ``run_host`` takes one host from "about to change" to exactly one ``Outcome``:

    connect -> pre-check (no pending commit, no unknown drift, plan still true, pre-state)
            -> load_replace + compare (nothing to change: verify only -> UNCHANGED)
            -> commit (device-side revert timer where the platform has one)
            -> post-check -> confirm -> mark good                          -> DEPLOYED
                          '-> roll back (cancel the pending commit, or full replace with the
                              last-good artifact) -> verify it the same way   -> ROLLED_BACK | ROLLBACK_FAILED
    device unreachable after a change and its state not provable           -> UNKNOWN

A candidate is always discarded in ``finally``; a pending commit is never left behind. Device errors are data
(outcomes with messages); only programming errors propagate. The journal is written (and fsynced, by the
journal) before every device-changing step, so a killed run can be recovered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from netimmutable.batch_board import far_ends_at_fault, only_lost_prefixes
from netimmutable.checks import (
    ChangeScope,
    CheckTarget,
    PostCheckResult,
    PreCheckResult,
    announce,
    change_scope,
    post_check,
    pre_check,
    round_getters,
)
from netimmutable.compare import compare_running
from netimmutable.deploy_model import (
    HostDevice,
    HostJob,
    HostResult,
    Phase,
    PipelineEnv,
    PlanPin,
    ProgressEvent,
)
from netimmutable.errors import (
    CandidateLocked,
    ConnectError,
    DeviceError,
    JournalWriteFailed,
    NetImmutableError,
    PreflightFailed,
    Unsupported,
)
from netimmutable.normalize import config_digest, normalize
from netimmutable.normalize import mask as mask_display
from netimmutable.outcomes import Cause, HostOutcome
from netimmutable.rollback import (
    REVERT_GRACE,
    RollbackTarget,
    commit_notes_of,
    pending_commit,
    roll_back,
    still_pending,
)
from netimmutable.secretforms import align
from netimmutable.soak import SOAK_MARGIN, UNKNOWN_HOLD_SOAK, Soak, revert_timer_problem, soak_for
from netimmutable.topology import blame_far_end
from netimmutable.utctime import utc_now, utc_text

_log = logging.getLogger(__name__)

__all__ = ["PlanPin", "run_host"]  # PlanPin: re-exported for netimmutable.plan


class _Stop(Exception):
    def __init__(self, result: HostResult) -> None:
        self.result = result
        super().__init__(result.message)


class _HostRun:
    """One host's run; holds the session and what has been done to the device so far."""

    def __init__(self, job: HostJob, env: PipelineEnv) -> None:
        self.job = job
        self.env = env
        self.device: HostDevice | None = None
        self.loaded = False
        self.committed = False
        self.pending = False
        self.started = time.monotonic()
        self.pre: PreCheckResult | None = None
        self.diff = ""
        self.drift = ""
        self.notes: list[str] = []
        self.good_error = False
        self.soak: Soak | None = None
        """The soak of this host's change, once known (after its pre-check)."""
        self.failed_utc: str | None = None
        """When the change was found failing (the rollback's start), for the records and metrics."""
        self.committed_at = 0.0
        """When the commit was sent (monotonic): the device's revert deadline is ``revert_in`` after it."""

    # ------------------------------------------------------------------------------------------ helpers
    def emit(self, phase: Phase, message: str, outcome: HostOutcome | None = None) -> None:
        try:
            self.env.progress(ProgressEvent(self.job.host, phase, message, outcome))
        except KeyboardInterrupt:
            self.env.cancel.cancel()  # Ctrl-C delivered through the progress display
        except Exception:  # noqa: BLE001 - a broken display must never break a change window
            _log.warning("progress display failed for %s", self.job.host, exc_info=True)

    def before(self, step: str, **details: Any) -> None:
        """Journal (durably) that ``step`` is about to change the device. When the entry cannot be written
        (disk full) before the load, nothing has been done: the host fails before any change. Later steps
        let the error through (the device may have changed: UNKNOWN, for a person and ``recover``)."""
        try:
            self.env.journal.before(self.job.host, step, release=self.job.release or None, **details)
        except JournalWriteFailed as exc:
            if step != "load":
                raise
            raise self.stop(
                HostOutcome.FAILED, f"not changed: {exc}", Phase.LOAD, cause=Cause.JOURNAL
            ) from None

    def after(self, step: str, outcome: str = "ok") -> None:
        try:  # device errors may quote config lines: mask before storing (and before cutting)
            self.env.journal.after(self.job.host, step, self.shown(outcome)[:200])
        except NetImmutableError as exc:
            self.notes.append(f"journal: {exc.message}")

    def shown(self, text: str) -> str:
        """``text`` safe to show and store: values of this run's secrets as their placeholders, and any other
        value after a secret keyword (a value the device holds that this run did not resolve) masked."""
        return mask_display(self.env.mask(text))

    def config_digest(self, config: str) -> str:
        """Digest of a config as shown and stored (secrets masked, normalized)."""
        return config_digest(normalize(self.env.mask(config), self.job.platform, self.env.extra_patterns))

    def result(self, outcome: HostOutcome, message: str, phase: Phase, **extra: Any) -> HostResult:
        pre = self.pre
        captured = None
        if self.job.last_good_artifact is None and pre is not None and pre.running and self.committed:
            captured = self.env.mask(pre.running)
        values: dict[str, Any] = {
            "device_diff": self.shown(self.diff),
            "drift": self.shown(self.drift),
            "pre_digest": pre.state.digest if pre is not None else None,
            "pre_config_digest": self.config_digest(pre.running) if pre is not None and pre.running else None,
            "rollback_target": self.rollback_label() if self.committed else None,
            "captured_config": captured,
            "changed": self.committed,
            "notes": tuple(self.notes),
        }
        if self.good_error:
            values["cause"] = Cause.RECORD
        values.update(extra)
        for key in ("notes", "failures"):  # may quote device errors
            if key in values:
                values[key] = tuple(self.shown(text) for text in values[key])
        return HostResult(
            host=self.job.host,
            outcome=outcome,
            message=self.shown(message),
            phase=phase,
            release=self.job.release,
            seconds=round(time.monotonic() - self.started, 3),
            failed_utc=self.failed_utc,
            ended_utc=utc_now(),
            **values,
        )

    def stop(self, outcome: HostOutcome, message: str, phase: Phase, **extra: Any) -> _Stop:
        return _Stop(self.result(outcome, message, phase, **extra))

    def post_values(self, checked: PostCheckResult) -> dict[str, Any]:
        return {
            "post_digest": checked.state.digest if checked.state else None,
            "post_config_digest": self.config_digest(checked.running) if checked.running else None,
            "soak_wait": checked.soak_wait,
        }

    def dev(self) -> HostDevice:
        assert self.device is not None  # noqa: S101 - set by connect() before any step uses it
        return self.device

    def rollback_label(self) -> str:
        if self.job.last_good_artifact is None:
            return "the running config captured before the push (first deployment)"
        release = self.job.last_good_release
        return f"last-good release {release[:10]}" if release else "the last-good configuration"

    def rollback_config(self) -> str:
        if self.job.last_good_artifact is not None:
            return self.env.resolve(self.job.last_good_artifact)
        # a change is only made after the pre-check, which refuses a first deployment it cannot capture
        assert self.pre is not None and self.pre.running is not None  # noqa: S101
        return self.pre.running

    # ------------------------------------------------------------------------------------------ the run
    @property
    def artifact_digest(self) -> str:
        return config_digest(normalize(self.job.artifact, self.job.platform, self.env.extra_patterns))

    def run(self) -> HostResult:
        try:
            result = self.steps()
        except _Stop as stop:
            result = stop.result
        except JournalWriteFailed as exc:  # a step after the load could not be journaled (disk full)
            result = self.journal_failed(exc)
        finally:
            self.cleanup()
            if self.env.board is not None:
                self.env.board.finished(self.job.host)
        if not result.outcome.unsettled:  # UNKNOWN, ROLLBACK_FAILED stay in flight for `netimmutable recover`
            with contextlib.suppress(NetImmutableError):
                self.env.journal.finish(self.job.host, result.outcome.value)
        return result

    def journal_failed(self, exc: JournalWriteFailed) -> HostResult:
        """The journal entry before a step after the load could not be written: the step was not taken (a
        change is never confirmed or rolled back without its entry). Before the commit nothing has changed;
        after it the cleanup cancels our pending commit and the host is left in flight for ``recover``."""
        if not self.committed:
            return self.result(
                HostOutcome.FAILED, f"not changed: {exc.message}", Phase.COMMIT, cause=Cause.JOURNAL
            )
        if self.pending:
            left = (
                f"our pending commit is cancelled (its revert timer, {self.job.revert_in}s, is the fallback)"
            )
        else:  # no timer on this platform: the change took effect at the commit and stays
            left = "the new release still runs (this platform has no commit to cancel)"
        return self.result(
            HostOutcome.UNKNOWN,
            f"committed, but {exc.message}: not confirmed; {left}. "
            "Free disk space, then `netimmutable recover` proves the device's state",
            Phase.CONFIRM,
            cause=Cause.JOURNAL,
        )

    def connect(self) -> None:
        """Open a session (again); a pending commit of ours bound to the old session (EOS) is carried over
        to the new one, never aborted by closing the old one (``Device.close``)."""
        token = None
        if self.device is not None:
            token = self.device.session_token() if self.pending else None
            self.device.close()
            self.device = None
        self.device = self.env.open_device()
        if token:
            self.device.adopt_session(token)

    def steps(self) -> HostResult:
        if self.env.cancel.cancelled:
            return self.result(
                HostOutcome.SKIPPED,
                f"not started: the window was interrupted ({self.env.cancel.reason})",
                Phase.CONNECT,
                cause=Cause.INTERRUPTED,
            )
        self.emit(Phase.CONNECT, "connecting")
        try:
            self.connect()
        except DeviceError as exc:
            return self.result(
                HostOutcome.UNREACHABLE,
                f"unreachable: {exc.message}",
                Phase.CONNECT,
                cause=Cause.UNREACHABLE,
            )
        self.precheck()
        self.load()
        if not self.diff.strip():
            return self.verify_unchanged()
        if self.env.cancel.cancelled:
            return self.result(
                HostOutcome.SKIPPED,
                f"interrupted ({self.env.cancel.reason}) before the change; device untouched",
                Phase.LOAD,
                cause=Cause.INTERRUPTED,
            )
        self.plan_soak()
        fence = self.env.fence(self.job.host)
        if fence:  # the lease is lost or about to expire: no change now
            self.discard()
            return self.result(
                HostOutcome.REFUSED,
                f"{fence}: not committed, device untouched",
                Phase.COMMIT,
                cause=Cause.LEASE,
            )
        self.commit()
        return self.check_and_confirm()

    def plan_soak(self) -> None:
        """The soak of this change (``auto``: from the device's hold times), and the revert timer checked
        against it: a timer that would fire while the host is still being checked refuses the host now,
        before any change. Only hosts with something to change get here: nothing is read for the others."""
        job, dev = self.job, self.dev()
        try:
            self.soak = self.soak_of(dev)
        except DeviceError as exc:
            self.discard()
            raise self.precheck_failed(exc, "reading the BGP hold times for the soak") from None
        problem = revert_timer_problem(
            job.revert_in, settle_timeout=self.env.settle_timeout, soak=self.soak.seconds
        )
        if problem:
            self.discard()
            raise self.stop(
                HostOutcome.REFUSED,
                f"refused before any change: {problem}",
                Phase.PRECHECK,
                cause=Cause.TIMER,
            )

    def precheck_failed(self, exc: DeviceError, during: str = "") -> _Stop:
        """A device error before any change: the host fails untouched."""
        what = f"pre-check failed ({during})" if during else "pre-check failed"
        return self.stop(
            HostOutcome.UNREACHABLE, f"{what}: {exc.message}", Phase.PRECHECK, cause=Cause.UNREACHABLE
        )

    def precheck(self) -> None:
        job, dev = self.job, self.dev()
        self.emit(Phase.PRECHECK, "pre-checks: pending commits, drift, state")
        try:
            if self.has_pending(dev):
                raise self.stop(
                    HostOutcome.REFUSED,
                    "the device has a commit pending confirmation from someone else; "
                    "confirm it or roll it back first",
                    Phase.PRECHECK,
                    cause=Cause.PENDING_COMMIT,
                )
            dev.preflight()  # platform prerequisites (netimmutable.preflight), before the drift gate loads
            last_good = (
                self.env.resolve(job.last_good_artifact) if job.last_good_artifact is not None else None
            )
            self.pre = pre_check(
                dev, last_good, self.env.extra_patterns, job.strategy, secrets=self.env.secret_values()
            )
        except (PreflightFailed, CandidateLocked) as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            raise self.stop(
                HostOutcome.REFUSED,
                f"refused before any change: {exc.message}{hint}",
                Phase.PRECHECK,
                cause=Cause.PREFLIGHT,
            ) from None
        except DeviceError as exc:
            raise self.precheck_failed(exc) from None
        if self.pre.running is None and job.last_good_artifact is None:
            raise self.stop(
                HostOutcome.REFUSED,
                "first deployment refused: the driver cannot read the running config (no get_config), so "
                "there would be nothing to roll back to; give the host a last-good release first "
                "(`netimmutable adopt` on a driver that can read it, or a release known to run there)",
                Phase.PRECHECK,
                cause=Cause.REJECTED,
            )
        self.drift = self.pre.drift
        if self.drift:
            if not job.force_drift:
                raise self.stop(
                    HostOutcome.REFUSED,
                    "unknown drift: the running config differs from the last-good release "
                    f"{(job.last_good_release or '')[:10]}; refusing this host (--force-drift overrides)",
                    Phase.PRECHECK,
                    cause=Cause.DRIFT,
                )
            self.notes.append("drift overridden with --force-drift")

    @staticmethod
    def has_pending(dev: HostDevice) -> bool:
        return pending_commit(dev)  # a platform without commit-confirm has nothing pending

    def load(self) -> None:
        job, dev = self.job, self.dev()
        self.emit(Phase.LOAD, "loading the candidate (full replace) and taking the device's diff")
        self.before("load", artifact_digest=self.artifact_digest)
        try:
            candidate = self.env.resolve(job.artifact)
            if self.pre is not None and self.pre.running:
                # the device keeps its own encodings of secrets in a form: a new salt is no change
                candidate = align(candidate, self.pre.running, self.env.secret_values())
            dev.load_replace(candidate)
            self.loaded = True  # only now is a candidate of ours there to discard (never another's)
            self.diff = dev.compare()
        except CandidateLocked as exc:  # someone took the candidate since the pre-flight: theirs, untouched
            self.after("load", exc.message)
            raise self.stop(
                HostOutcome.REFUSED,
                f"refused before any change: {exc.message}",
                Phase.LOAD,
                cause=Cause.PREFLIGHT,
            ) from None
        except DeviceError as exc:
            self.after("load", exc.message)
            lost = isinstance(exc, ConnectError)  # the session broke: nothing was refused
            raise self.stop(
                HostOutcome.UNREACHABLE if lost else HostOutcome.FAILED,
                f"{'connection lost before the change' if lost else 'candidate refused'}: {exc.message}",
                Phase.LOAD,
                cause=Cause.UNREACHABLE if lost else Cause.REJECTED,
            ) from None
        self.after("load")
        if job.plan is not None:
            assert self.pre is not None  # noqa: S101
            why = job.plan.check(self.pre.running, self.diff)
            if why:
                raise self.stop(
                    HostOutcome.REFUSED,
                    f"the device changed since the plan was made: {why}",
                    Phase.LOAD,
                    cause=Cause.PLAN,
                )

    def discard(self) -> None:
        if self.loaded and self.device is not None:
            self.loaded = False
            try:
                self.before("discard")
            except JournalWriteFailed as exc:  # discarding a candidate changes nothing: do it anyway
                self.notes.append(f"journal: {exc.message}")
            try:
                self.device.discard()
            except DeviceError as exc:
                self.notes.append(f"discarding the candidate failed: {exc.message}")
                self.after("discard", exc.message)
                return
            self.after("discard")

    def check_target(self, rollback: bool = False) -> CheckTarget:
        job = self.job
        if rollback:
            return CheckTarget(self.rollback_config(), job.last_good_expectations, False, "rollback target")
        return CheckTarget(self.env.resolve(job.artifact), job.expectations, job.expectations_required)

    def soak_of(self, dev: HostDevice) -> Soak:
        """The soak the settings ask for; ``auto``: from the hold times the device reports now."""
        setting = self.env.soak
        if setting != "auto":
            return soak_for(setting, None)
        why = ""
        try:
            detail: dict[str, Any] | None = dev.bgp_neighbors_detail()
        except Unsupported:
            detail = None
        except ConnectError:
            raise
        except DeviceError as exc:  # the driver cannot read them from this device: as if it had no getter
            detail, why = None, f" ({exc.message})"
        if detail is None and self.pre is not None and self.pre.state.bgp_peers:
            self.notes.append(
                f"the driver gives no BGP hold times (get_bgp_neighbors_detail){why}: soak "
                f"{UNKNOWN_HOLD_SOAK:g}s assumed for its BGP sessions; set deploy.soak to choose"
            )
            return Soak(UNKNOWN_HOLD_SOAK, "BGP hold times unknown: the common default 180s, plus 2s")
        return soak_for("auto", detail)

    def post(
        self, target: CheckTarget, scope: ChangeScope, *, rollback: bool = False, soak: float = 0.0
    ) -> PostCheckResult:
        """The post-checks, held through ``soak`` seconds once they pass; the first Ctrl-C cuts those of a
        change short (the host then rolls back), only a second one those of a rollback (a rollback that
        worked must not be reported failed)."""
        assert self.pre is not None  # noqa: S101
        cancel = self.env.cancel
        return post_check(
            self.dev(),
            target,
            self.pre.state,
            scope,
            settle_timeout=self.env.settle_timeout,
            settle_interval=self.env.settle_interval,
            extra=self.env.extra_patterns,
            cancelled=(lambda: cancel.abandoned) if rollback else (lambda: cancel.cancelled),
            soak=soak,
            on_soak=self.soak_progress(),
            still_pending=self.still_pending if self.pending and not rollback else None,
            strategy=self.job.strategy,
            secrets=self.env.secret_values(),
        )

    def soak_progress(self) -> Callable[[float], None]:
        """A progress line when the soak starts, then one about every 5 seconds, counting down."""
        shown: list[float] = []

        def report(left: float) -> None:
            if shown and shown[-1] - left < 5.0:
                return
            why = f" ({self.soak.why})" if self.soak is not None and not shown else ""
            self.emit(Phase.POSTCHECK, f"checks hold; soaking before the confirm: {left:.0f}s left{why}")
            shown.append(left)

        return report

    def verify_unchanged(self) -> HostResult:
        self.discard()
        self.emit(Phase.POSTCHECK, "nothing to change: verifying")
        try:
            checked = self.post(self.check_target(), ChangeScope())
        except (DeviceError, NetImmutableError) as exc:
            return self.result(
                HostOutcome.FAILED,
                f"verification failed: {exc.message}",
                Phase.POSTCHECK,
                cause=Cause.CHECKS,
            )
        if not checked.ok:
            return self.result(
                HostOutcome.FAILED,
                "nothing to change, but the checks fail: " + "; ".join(checked.failures),
                Phase.POSTCHECK,
                cause=Cause.CHECKS,
                failures=checked.failures,
                **self.post_values(checked),
            )
        message = "nothing to change; verified"
        message += self.record_good()
        return self.result(HostOutcome.UNCHANGED, message, Phase.DONE, **self.post_values(checked))

    def record_good(self) -> str:
        try:
            self.env.mark_good(self.job.host, self.job.release)
        except NetImmutableError as exc:
            self.good_error = True  # the device is fine; the run is not: it exits 1 (cause "record")
            return f" (but recording it as good failed: {exc.message})"
        return ""

    def commit(self) -> None:
        job, dev = self.job, self.dev()
        timer = (
            f" (device reverts in {job.revert_in}s unless confirmed)"
            if job.revert_in
            else " (no device timer)"
        )
        self.emit(Phase.COMMIT, "committing" + timer)
        assert self.pre is not None  # noqa: S101
        if job.last_good_artifact is None:
            self.notes.append(
                "no last-good: the running config captured before the push is the rollback target"
            )
        blob = None
        if job.last_good_release is None and self.env.keep_captured is not None:
            # no release to go back to: the journal names the rollback config itself (the running config
            # captured now, or the one an earlier first deployment captured), kept where gc cannot drop it
            kept = job.last_good_artifact if job.last_good_artifact is not None else self.rollback_config()
            blob = self.env.keep_captured(job.host, self.env.mask(kept))
        deadline = None
        if job.revert_in:
            deadline = utc_text(time.time() + job.revert_in)
        self.before(
            "commit",
            artifact_digest=self.artifact_digest,
            rollback_release=job.last_good_release,
            rollback_blob=blob,
            rollback_digest=self.config_digest(self.rollback_config()),
            revert_in=job.revert_in,
            revert_deadline_utc=deadline,
            pre_state=json.dumps(self.pre.state.to_dict(), sort_keys=True, separators=(",", ":")),
            soak=self.soak.seconds if self.soak is not None else 0.0,
            device_session=dev.session_token() if job.revert_in else None,
        )
        try:
            self.committed_at = time.monotonic()
            dev.commit(self.env.commit_message, job.revert_in)
            self.notes.extend(f"commit: {note}" for note in commit_notes_of(dev))
            self.loaded = False
            self.committed = True
            self.pending = job.revert_in is not None
            self.after("commit")
        except DeviceError as exc:
            self.after("commit", exc.message)
            # a refused commit may leave the candidate loaded (EOS config session, Junos candidate):
            # ``loaded`` stays set so that cleanup discards it
            if not isinstance(exc, ConnectError) and self.foreign_pending():
                # the device refused our commit and another session's commit is pending: it appeared after
                # the pre-check. It is not ours to confirm, cancel or roll back: the device is left as it is
                raise self.stop(
                    HostOutcome.FAILED,
                    "a commit from another session is pending confirmation (it appeared after the "
                    f"pre-check); this run's commit was refused ({exc.message}) and the device was not "
                    "touched: let that session confirm or cancel its commit, then deploy again",
                    Phase.COMMIT,
                    cause=Cause.PENDING_COMMIT,
                ) from None
            self.committed = True  # assume the worst until the device proves otherwise
            self.pending = job.revert_in is not None
            if self.unchanged_after_failed_commit():
                self.committed = self.pending = False
                lost = isinstance(exc, ConnectError)  # the session broke: nothing was refused
                raise self.stop(
                    HostOutcome.UNREACHABLE if lost else HostOutcome.FAILED,
                    f"{'connection lost during the commit' if lost else 'commit refused'}: {exc.message}"
                    + ("; the device is verified unchanged" if lost else ""),
                    Phase.COMMIT,
                    cause=Cause.UNREACHABLE if lost else Cause.REJECTED,
                ) from None
            raise self.stop_after_rollback(f"commit failed: {exc.message}", (), Cause.REJECTED) from None

    def foreign_pending(self) -> bool:
        """After our commit was refused: is a commit of another session pending on the device?"""
        try:
            return self.has_pending(self.dev())
        except DeviceError:
            return False

    def unchanged_after_failed_commit(self) -> bool:
        """After a failed commit: is the device provably still on its pre-change config?"""
        assert self.pre is not None  # noqa: S101
        try:
            if self.device is None or self.last_error_probe() is not None:
                self.connect()
            dev = self.dev()
            if self.has_pending(dev):
                return False
            before = self.pre.running if self.pre.running is not None else self.rollback_config()
            return compare_running(
                dev, before, self.job.strategy, self.env.extra_patterns, secrets=self.env.secret_values()
            ).equal
        except DeviceError:
            return False

    def last_error_probe(self) -> DeviceError | None:
        """The error a read of the device gives now (None: the session works)."""
        dev = self.dev()
        try:
            if self.pre is not None and self.pre.running is None:  # no get_config: ask something else
                dev.has_pending_commit()
            else:
                dev.running_config()
        except Unsupported:
            return None  # the session answered
        except DeviceError as exc:
            return exc
        return None

    def check_and_confirm(self) -> HostResult:
        job = self.job
        if self.env.soak == "auto" and self.soak is not None:
            # the new release may set other timers: the longer of before and after the change; its hold
            # times, the convergence and the first round of post-checks from one moment (one device read)
            try:
                announce(self.dev(), ("get_bgp_neighbors_detail", *round_getters(job.strategy)))
                after = self.soak_of(self.dev())
            except DeviceError:
                after = self.soak
            self.soak = max(self.soak, after, key=lambda s: s.seconds)
            problem = revert_timer_problem(
                job.revert_in, settle_timeout=self.env.settle_timeout, soak=self.soak.seconds
            )
            if problem:  # the new release's hold times need a longer soak than the timer leaves
                raise self.stop_after_rollback(
                    f"the new release's BGP hold times need a longer soak: {problem}", (), Cause.TIMER
                )
        soak = self.soak.seconds if self.soak is not None else 0.0
        soaking = f", then soaking {soak:g}s" if soak else ""
        self.emit(Phase.POSTCHECK, f"post-checks (settling up to {self.env.settle_timeout:g}s{soaking})")
        assert self.pre is not None  # noqa: S101
        scope = change_scope(self.rollback_config(), self.env.resolve(job.artifact))
        try:
            checked = self.post(self.check_target(), scope, soak=soak)
            if not checked.ok and not checked.reverted:
                checked = self.recheck_after_others(checked, scope, soak)
        except NetImmutableError as exc:  # the re-check's device errors too: a change is never left unsettled
            raise self.stop_after_rollback(
                f"post-check could not run: {exc.message}", (), Cause.CHECKS
            ) from None
        if checked.reverted:
            raise _Stop(self.after_timer_fired("while the post-checks ran", checked.failures))
        if not checked.ok:
            failures = blame_far_end(checked.failures, job.far_ends, job.alongside)
            reason = "post-check failed: " + "; ".join(failures)
            if checked.convergence:
                reason += "\n" + checked.convergence
            raise self.stop_after_rollback(reason, failures, Cause.CHECKS)
        if self.pending:
            self.confirm(checked)
        elif fence := self.env.fence(job.host):  # no timer: the change stands, but it is no longer ours
            raise _Stop(self.left_to_others(fence, Phase.POSTCHECK, undone="recorded good"))
        soaked = f", held {checked.soaked:.0f}s of soak" if soak else ""
        message = f"deployed and verified ({checked.attempts} check round(s), {checked.seconds:.1f}s{soaked})"
        message += self.record_good()
        return self.result(
            HostOutcome.DEPLOYED,
            message,
            Phase.DONE,
            **self.post_values(checked),
            notes=(*self.notes, *checked.notes),
        )

    def recheck_after_others(
        self, checked: PostCheckResult, scope: ChangeScope, soak: float
    ) -> PostCheckResult:
        """Checks that fail only by prefixes lost on sessions whose far end did not change, while other hosts
        of the batch changed too: wait for those hosts to end (their own checks or rollbacks), then check
        again from the start (``netimmutable.batch_board``). Otherwise, or without time left on the revert
        timer for another full check, ``checked`` as it was."""
        job, board = self.job, self.env.board
        if board is None or not job.alongside or self.env.cancel.cancelled:
            return checked
        if not only_lost_prefixes(checked.failures, job.far_ends):
            return checked
        need = self.env.settle_timeout + soak + SOAK_MARGIN
        limit = 3 * (self.env.settle_timeout + soak) + 10.0  # the others' checks and rollbacks
        if job.revert_in:
            limit = min(limit, self.committed_at + job.revert_in - time.monotonic() - need)
            if limit <= 0:
                return checked
        others = ", ".join(job.alongside)
        self.emit(
            Phase.POSTCHECK, f"prefixes lost while {others} changed too: waiting for them before deciding"
        )
        if not board.wait_for_others(job.host, job.alongside, limit, lambda: self.env.cancel.cancelled):
            self.notes.append(
                f"prefixes lost while {others} changed too; they did not end within {limit:.0f}s"
            )
            return checked
        self.emit(Phase.POSTCHECK, f"{others} ended: checking again")
        again = self.post(self.check_target(), scope, soak=soak)
        self.notes.append(
            f"prefixes were lost while {others} changed too; checked again once they had ended: "
            + ("held" if again.ok else "still failing")
        )
        return again

    def confirm(self, checked: PostCheckResult) -> None:
        """Confirm our pending commit; a timer that fired first means the device put its old config back.

        Never confirm close to the device's revert deadline (a confirm that lands just after the revert may be
        taken as a plain commit of nothing: Junos): closer than two check rounds plus a margin, roll back
        instead. After the confirm, the running config must still be the release."""
        self.emit(Phase.CONFIRM, "confirming the commit")
        fence = self.env.fence(self.job.host)
        if fence:
            raise _Stop(self.left_to_others(fence, Phase.CONFIRM))
        if not self.still_pending():
            raise _Stop(self.after_timer_fired("before the confirm", ()))
        if self.job.revert_in:
            per_round = checked.seconds / max(1, checked.attempts)
            left = self.committed_at + self.job.revert_in - time.monotonic()
            if left < 2 * per_round + SOAK_MARGIN:
                raise self.stop_after_rollback(
                    f"too close to the device's revert deadline to confirm ({left:.1f}s left, a check round "
                    f"takes {per_round:.1f}s): the revert timer ({self.job.revert_in}s) is too short for "
                    "these checks",
                    (),
                    Cause.TIMER,
                )
        self.before("confirm")
        try:
            self.dev().confirm()
        except DeviceError as exc:
            self.after("confirm", exc.message)
            if not self.still_pending():  # it fired between our look and the confirm
                raise _Stop(self.after_timer_fired("during the confirm", ())) from None
            raise self.stop_after_rollback(f"confirm failed: {exc.message}", (), Cause.REJECTED) from None
        self.after("confirm")
        self.pending = False
        target = self.env.resolve(self.job.artifact)
        try:
            after = compare_running(
                self.dev(),
                target,
                self.job.strategy,
                self.env.extra_patterns,
                secrets=self.env.secret_values(),
            )
        except DeviceError as exc:
            raise self.stop_after_rollback(
                f"the running config could not be read after the confirm: {exc.message}", (), Cause.CHECKS
            ) from None
        if not after.equal:
            # the confirm was taken, but the device no longer runs the release: its timer fired first
            raise _Stop(self.after_timer_fired("just before the confirm", ()))

    def still_pending(self) -> bool:
        """Our commit still waits for its confirm (``netimmutable.rollback.still_pending``)."""
        return still_pending(self.dev())

    def after_timer_fired(self, when: str, failures: tuple[str, ...]) -> HostResult:
        """The device's revert timer fired before we confirmed: checks stop, the device is proven back on its
        rollback target (pushed only if the revert left it elsewhere) and the host ends REVERTED."""
        self.pending = False  # nothing of ours is pending any more
        reason = (
            f"the device's revert timer ({self.job.revert_in}s) fired {when}: the device put back its "
            "pre-commit configuration; the change was not confirmed"
        )
        return self.rollback(reason, failures, Cause.REVERT_TIMER, reverted_by_device=True)

    def left_to_others(
        self,
        fence: str,
        phase: Phase,
        failures: tuple[str, ...] = (),
        *,
        why: str = "",
        undone: str = "confirmed",
    ) -> HostResult:
        """This run no longer holds the host's lease (``fence`` says why): it neither confirms, cancels nor
        rolls back any more (another clone's ``recover`` may be acting on the device). A pending commit is
        left to the device's revert timer; the host ends UNKNOWN, its lock and journal kept."""
        if self.pending:
            left = f"left to the device's revert timer ({self.job.revert_in}s) or their recover"
        else:
            left = "left to their recover (or `netimmutable recover` here once the lease is free)"
        self.pending = False  # not ours to cancel in cleanup any more
        self.emit(phase, f"{fence}: {left}")
        return self.result(
            HostOutcome.UNKNOWN,
            f"{why}{fence}: not {undone} by this run; {left}",
            phase,
            failures=failures,
            cause=Cause.LEASE,
        )

    # ------------------------------------------------------------------------------------------ rollback
    def reconnect(self) -> bool:
        for attempt in range(max(1, self.env.reconnect_tries)):
            try:
                self.connect()
                return True
            except DeviceError:
                if attempt + 1 < self.env.reconnect_tries:
                    time.sleep(self.env.reconnect_delay)
        return False

    def reverify_after_far_ends(self, checked: PostCheckResult) -> PostCheckResult:
        """A rollback whose checks fail only on BGP sessions to far ends changed in the same batch is not yet
        proven failed: those hosts may still be broken (or rolling back). Wait for them to end, then verify
        again (``netimmutable.batch_board.far_ends_at_fault``); otherwise ``checked`` as it was."""
        board = self.env.board
        hosts = far_ends_at_fault(checked.failures, self.job.far_ends)
        if board is None or not hosts or self.env.cancel.cancelled:
            return checked
        names = ", ".join(sorted(hosts))
        limit = 3 * self.env.settle_timeout + 10.0  # their checks and rollbacks (rollbacks are not soaked)
        self.emit(Phase.VERIFY_ROLLBACK, f"sessions to {names} still down: waiting for them before deciding")
        if not board.wait_for_others(self.job.host, hosts, limit, lambda: self.env.cancel.cancelled):
            self.notes.append(
                f"sessions to {names} were down after the rollback; they did not end in {limit:.0f}s"
            )
            return checked
        again = self.post(self.check_target(rollback=True), ChangeScope(), rollback=True)
        self.notes.append(
            f"sessions to {names} were down after the rollback; verified again once they had ended: "
            + ("held" if again.ok else "still failing")
        )
        return again

    def stop_after_rollback(self, reason: str, failures: tuple[str, ...], cause: Cause) -> _Stop:
        return _Stop(self.rollback(reason, failures, cause))

    def rollback(
        self, reason: str, failures: tuple[str, ...], cause: Cause, *, reverted_by_device: bool = False
    ) -> HostResult:
        """Put the device back on its rollback target and prove it (``netimmutable.rollback``); never leave a
        pending commit of ours, never touch one of another session."""
        self.failed_utc = self.failed_utc or utc_now()
        fence = self.env.fence(self.job.host)
        if fence:
            return self.left_to_others(
                fence, Phase.ROLLBACK, failures, why=f"{reason}\n", undone="rolled back"
            )
        self.emit(Phase.ROLLBACK, f"rolling back to {self.rollback_label()}")
        target = RollbackTarget(self.rollback_config(), self.rollback_label())
        # journaled first: the run has decided; a kill from here on makes `recover` complete the rollback
        self.before(
            "rollback",
            rollback_release=self.job.last_good_release,
            rollback_digest=self.config_digest(target.config),
            revert_in=self.job.revert_in if self.pending else None,
        )
        if (self.device is None or self.last_error_probe() is not None) and not self.reconnect():
            unknown = f"{reason}\nthe device is unreachable after the change; " + (
                f"its revert timer ({self.job.revert_in}s) should put {self.rollback_label()} back: "
                "verify with `netimmutable verify`"
                if self.pending
                else "it may still run the new release: check it and run `netimmutable rollback`"
            )
            return self.result(HostOutcome.UNKNOWN, unknown, Phase.ROLLBACK, failures=failures, cause=cause)
        verify_started: list[bool] = []

        def verify() -> PostCheckResult:
            self.emit(Phase.VERIFY_ROLLBACK, "verifying the rollback")
            verify_started.append(True)
            checked = self.post(self.check_target(rollback=True), ChangeScope(), rollback=True)
            if not checked.ok and not checked.reverted:
                checked = self.reverify_after_far_ends(checked)
            return checked

        done = roll_back(
            self.dev(),
            target,
            verify,
            pending_is_ours=self.pending and not self.past_own_deadline(),
            commit_message=f"netimmutable rollback: {self.env.commit_message}",
            extra=self.env.extra_patterns,
            reverted_by_device=reverted_by_device,
            after=lambda outcome: self.after("rollback", outcome),
            strategy=self.job.strategy,
            secrets=self.env.secret_values(),
        )
        if done.cause is not Cause.PENDING_COMMIT:
            self.pending = done.pending_left  # cancelled or replaced; else cleanup tries the cancel again
        checks = done.checked.failures if done.checked is not None and not done.checked.ok else ()
        phase = Phase.DONE
        if done.outcome.unsettled:
            phase = Phase.VERIFY_ROLLBACK if verify_started else Phase.ROLLBACK
        return self.result(
            done.outcome,
            f"{reason}\n{done.detail}",
            phase,
            failures=(*failures, *checks),
            cause=done.cause if done.cause is Cause.PENDING_COMMIT else cause,
            **(self.post_values(done.checked) if done.checked is not None else {}),
        )

    def past_own_deadline(self) -> bool:
        """Is our commit's revert timer overdue by more than ``REVERT_GRACE`` (so it has fired)?"""
        revert_in = self.job.revert_in
        return bool(revert_in) and time.monotonic() > self.committed_at + (revert_in or 0) + REVERT_GRACE

    def cancel_own_pending(self, dev: HostDevice) -> None:
        """Cancel the commit pending on ``dev`` when it is still ours: not once the lease is lost (another
        clone may act on the device), nor long after our revert timer was due (then it is someone else's)."""
        if fence := self.env.fence(self.job.host):
            self.notes.append(f"{fence}: the pending commit is left to the device's timer")
        elif self.past_own_deadline():
            self.notes.append(
                "a commit pending after our revert timer was due is another session's: left alone"
            )
        else:
            dev.rollback_driver()
            self.notes.append("a pending commit was cancelled during cleanup")

    def cleanup(self) -> None:
        """Discard any candidate; never leave a pending commit of this run; close the session."""
        dev = self.device
        if dev is None:
            return
        self.discard()
        if self.pending:
            try:
                if self.has_pending(dev):
                    self.cancel_own_pending(dev)
                self.pending = False
            except DeviceError as exc:
                self.notes.append(f"cancelling the pending commit failed: {exc.message}")
        dev.close()
        self.device = None


def run_host(job: HostJob, env: PipelineEnv) -> HostResult:
    """Take one host through the pipeline; the result says how it ended (never raises for device trouble)."""
    run = _HostRun(job, env)
    result = run.run()
    run.emit(Phase.DONE, result.message.splitlines()[0], result.outcome)
    return result
