"""The change window: gate, canary, batches, failure budget, failure policy, Ctrl-C, one run record.

    gate (approved release, artifacts untouched, snapshots current, plan)  -> hosts and their jobs
    tell which hosts have no device-side revert timer
    lock the repository and every targeted device
    canary batch -> batches of --batch-size, hosts of a batch in parallel (Nornir)
        each host: netimmutable.push.run_host (pre-checks, push, post-checks, confirm or roll back)
        after each batch: failure budget spent? -> stop | rollback-all | continue
    run record (Records.write_run), journal closed, locks released (a host left UNKNOWN keeps its lock)

Nornir runs the per-host pipeline; its ``AggregatedResult`` becomes typed ``HostResult``s in one place
(``_collect``). Ctrl-C (SIGINT) sets a cancel token: hosts not yet changed stop untouched, changed hosts
finish their checks or roll back; no pending commit or candidate is left.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

import git
from nornir.core.inventory import Host
from nornir.core.task import AggregatedResult, Result, Task

from netimmutable.approval import check_approved
from netimmutable.artifacts import dirty_paths, hosts_in, open_git, read_artifacts
from netimmutable.batch_board import BatchBoard
from netimmutable.cluster import cluster_options
from netimmutable.cluster_deploy import BatchContext, DeployCluster, connect, run_batch
from netimmutable.confirmation import host_changes
from netimmutable.deploy_gate import Prepared, gate, prepare
from netimmutable.deploy_model import (
    CancelToken,
    Confirm,
    DeployOptions,
    HostDevice,
    HostJob,
    HostResult,
    Phase,
    PipelineEnv,
    Progress,
    ProgressEvent,
    RunReport,
    WindowSummary,
    plan_window,
)
from netimmutable.device import Device
from netimmutable.errors import InputError, NetImmutableError, NotConfirmed
from netimmutable.inventory import LoadedInventory, load_inventory, make_nornir, select_hosts
from netimmutable.journal import Journal
from netimmutable.leases import LeaseSet
from netimmutable.locks import device_locks, repo_lock
from netimmutable.outcomes import Cause, HostOutcome
from netimmutable.push import run_host
from netimmutable.records import HostRecord, Records, RunRecord, new_run_id, utc_now
from netimmutable.recover import check_unfinished
from netimmutable.release_content import require_content
from netimmutable.repo import NetworkRepo
from netimmutable.secrets import SecretError, Secrets, secret_names
from netimmutable.settings import OnFailure
from netimmutable.soak import SoakSetting
from netimmutable.topology import adjacency, peer_hosts
from netimmutable.trust import GoodTrust

__all__ = ["deploy", "rollback"]


# ------------------------------------------------------------------------------ running
@dataclass(slots=True)
class _Mark:
    """A host's request to be recorded good, waiting for whoever writes the next group of marks."""

    host: str
    release: str
    done: bool = False
    error: BaseException | None = None


class _Window:
    """State of one run: shared by the worker threads through the PipelineEnv callbacks."""

    def __init__(
        self,
        repo: NetworkRepo,
        gitrepo: git.Repo,
        records: Records,
        progress: Progress,
        run_id: str,
        *,
        defer_good: bool,
    ) -> None:
        self.repo = repo
        self.gitrepo = gitrepo
        self.records = records
        self.progress = progress
        self.run_id = run_id
        self.cancel = CancelToken()
        self.secrets = Secrets(repo)
        self.defer_good = defer_good
        self.deferred: dict[str, str] = {}
        self.git_lock = threading.Lock()
        self._marks_lock = threading.Lock()
        self._marks: list[_Mark] = []
        self.journal: Journal | None = None
        self.cluster: DeployCluster | None = None
        """``deploy --cluster``: the hosts' pipelines run on its workers (``netimmutable.cluster_deploy``)."""
        self.leases: LeaseSet | None = None
        """The run's leases on the records remote (None without one)."""

    def fence(self, host: str) -> str:
        """Why this run must no longer act on ``host`` ("" while it holds a valid lease)."""
        return self.leases.problem(host) if self.leases is not None else ""

    def take_leases(self, leases: LeaseSet) -> None:
        self.leases = leases

    def emit(self, message: str, phase: Phase = Phase.WINDOW) -> None:
        try:
            self.progress(ProgressEvent(None, phase, message))
        except KeyboardInterrupt:
            self.cancel.cancel()

    def mark_good(self, host: str, release: str) -> None:
        """Record ``host`` good on ``release``; returns once the record is written (raises if it was not).

        Hosts of a batch pass their checks at about the same moment: whoever takes the git lock writes the
        marks of every host waiting for it in one transaction (one good-log commit, one ``update-ref``), so
        a batch of 50 costs a few git writes instead of 50 serialized ones. When such a group write fails,
        each of its hosts is marked alone, so one host's problem is never another's.
        """
        if not release:
            return
        mark = _Mark(host, release)
        with self._marks_lock:
            self._marks.append(mark)
        with self.git_lock:
            if not mark.done:
                with self._marks_lock:
                    group, self._marks = self._marks, []
                self._write_marks(group)
        if mark.error is not None:
            raise mark.error

    def _write_marks(self, group: list[_Mark]) -> None:
        """Write ``group`` (under the git lock): every mark ends done, with the error its host must raise."""
        try:
            if self.defer_good:
                for mark in group:
                    self.deferred[mark.host] = mark.release
            elif len(group) == 1:
                self.records.mark_good(group[0].host, group[0].release, self.run_id)
            else:
                try:
                    self.records.mark_good_many([(m.host, m.release) for m in group], self.run_id)
                except Exception:  # noqa: BLE001 - then each host is marked alone and gets its own error
                    for mark in group:
                        try:
                            self.records.mark_good(mark.host, mark.release, self.run_id)
                        except Exception as exc:  # noqa: BLE001 - raised in the thread of its host
                            mark.error = exc
        except BaseException as exc:
            for mark in group:
                mark.error = mark.error or exc
            raise
        finally:
            for mark in group:
                mark.done = True

    def keep_captured(self, host: str, text: str) -> str:
        with self.git_lock:
            return self.records.keep_captured(host, self.run_id, text)

    def env(
        self,
        host: Host,
        settle_timeout: float,
        settle_interval: float,
        message: str,
        soak: SoakSetting,
        board: BatchBoard | None = None,
    ) -> PipelineEnv:
        def opener() -> HostDevice:
            return Device.open(host)

        return PipelineEnv(
            open_device=opener,
            resolve=self.secrets.resolve,
            mask=self.secrets.mask,
            secret_values=lambda: self.secrets.resolved,
            mark_good=self.mark_good,
            settle_timeout=settle_timeout,
            settle_interval=settle_interval,
            commit_message=message,
            soak=soak,
            extra_patterns=self.repo.settings.ignore_lines,
            progress=self.progress,
            cancel=self.cancel,
            journal=self.journal if self.journal is not None else _NO_JOURNAL,
            keep_captured=self.keep_captured,
            board=board,
            fence=self.fence,
        )

    @contextlib.contextmanager
    def sigint(self, *, finishing: Callable[[], bool] | None = None) -> Iterator[None]:
        """Ctrl-C sets the cancel token instead of killing threads mid-change (main thread only).
        ``finishing``: once it says so, the hosts' outcomes are final and the records, locks and leases are
        being written and released: Ctrl-C waits for them (a run record lost to a Ctrl-C would hide what the
        devices now run); before that, a Ctrl-C interrupts as by default (nothing has been changed yet)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(_signum: int, _frame: FrameType | None) -> None:
            if finishing is not None:
                if not finishing():
                    raise KeyboardInterrupt
                self.emit("Ctrl-C: the run has ended; its records are being written and finish first")
            elif not self.cancel.cancelled:
                self.cancel.cancel()
                self.emit(
                    "interrupted (Ctrl-C): no new host starts; hosts already changed finish their checks "
                    "or roll back (Ctrl-C again abandons the verification of those rollbacks)"
                )
            elif not self.cancel.abandoned:
                self.cancel.abandon()
                self.emit(
                    "second Ctrl-C: rollbacks in progress are not verified; those hosts end rollback-failed, "
                    "their locks and journal kept for `netimmutable recover`"
                )

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


class _NullJournal:
    def before(self, host: str, step: Any, **details: Any) -> None:
        return None

    def after(self, host: str, step: Any, outcome: str) -> None:
        return None

    def finish(self, host: str, outcome: str) -> None:
        return None


_NO_JOURNAL = _NullJournal()


def _host_task(task: Task, jobs: Mapping[str, HostJob], envs: Mapping[str, PipelineEnv]) -> Result:
    return Result(host=task.host, result=run_host(jobs[task.host.name], envs[task.host.name]))


def _collect(aggregated: AggregatedResult, jobs: Mapping[str, HostJob]) -> list[HostResult]:
    """The one place a Nornir ``AggregatedResult`` becomes typed per-host results."""
    out: list[HostResult] = []
    for name, job in jobs.items():
        multi = aggregated.get(name)
        first = multi[0] if multi else None
        if first is not None and not first.failed and isinstance(first.result, HostResult):
            out.append(first.result)
            continue
        detail = "no result" if first is None else (str(first.exception or first.result) or "task failed")
        out.append(
            HostResult(
                host=name,
                outcome=HostOutcome.UNKNOWN,
                message=f"internal error in the host pipeline: {detail}; check the device",
                phase=Phase.DONE,
                release=job.release,
                cause=Cause.INTERNAL,
            )
        )
    return out


def _run_batch(
    window: _Window,
    loaded: LoadedInventory,
    hosts: Mapping[str, Host],
    jobs: Mapping[str, HostJob],
    envs: Mapping[str, PipelineEnv],
    workers: int,
) -> list[HostResult]:
    if window.cluster is not None:
        ctx = BatchContext(
            window.cluster,
            hosts,
            window.cancel,
            secrets_file=_worker_secrets_file(window.repo),
            secrets_command=window.repo.settings.secrets_command,
        )
        with window.sigint():
            return run_batch(ctx, jobs, envs)
    nornir = make_nornir([hosts[n] for n in jobs], loaded, workers)
    with window.sigint():
        aggregated = nornir.run(task=_host_task, name="netimmutable", jobs=jobs, envs=envs, on_failed=True)
    return _collect(aggregated, jobs)


def _worker_secrets_file(repo: NetworkRepo) -> str | None:
    """The secrets file a cluster worker reads on its own machine: the setting when it is an absolute path
    (or starts with ``~``); a path relative to the repository means nothing on a worker."""
    setting = repo.settings.secrets_file
    return setting if setting and (setting.startswith(("/", "~"))) else None


def _not_attempted(job: HostJob, why: str, cause: Cause = Cause.NOT_ATTEMPTED) -> HostResult:
    return HostResult(
        host=job.host,
        outcome=HostOutcome.SKIPPED,
        message=f"not attempted: {why}",
        phase=Phase.CONNECT,
        release=job.release,
        cause=cause,
    )


# ------------------------------------------------------------------------------ the window
def _quiet(_event: ProgressEvent) -> None:
    return None


def _failed(result: HostResult) -> bool:
    return not result.outcome.ok and not result.cause.stops_nothing


def _after_rollback_all(original: HostResult, restore: HostResult) -> HostResult:
    """A deployed host's final result once ``--on-failure rollback-all`` tried to put it back."""
    target = original.rollback_target or "its last-good configuration"
    cause = Cause.ROLLBACK_ALL
    if restore.outcome.ok:
        outcome, message = (
            HostOutcome.ROLLED_BACK,
            f"deployed and verified, then returned to {target} by --on-failure rollback-all (verified)",
        )
    else:
        outcome = (
            HostOutcome.UNKNOWN if restore.outcome is HostOutcome.UNKNOWN else HostOutcome.ROLLBACK_FAILED
        )
        message = f"--on-failure rollback-all could not return it to {target}: {restore.message}"
    return replace(
        original,
        outcome=outcome,
        message=message,
        cause=cause,
        failures=(*original.failures, *restore.failures),
        post_digest=restore.post_digest,
        post_config_digest=restore.post_config_digest,
        seconds=round(original.seconds + restore.seconds, 3),
        failed_utc=original.ended_utc,  # the window decided to return it once it had ended deployed
        ended_utc=restore.ended_utc,
        notes=(*original.notes, *restore.notes),
    )


@dataclass(frozen=True, slots=True)
class _Policy:
    kind: str
    release: str | None
    batches: tuple[tuple[str, ...], ...]
    canary: bool
    max_failures: int
    on_failure: OnFailure
    flags: tuple[str, ...]
    message: str


def _rollback_all(
    window: _Window, loaded: LoadedInventory, prepared: Prepared, results: dict[str, HostResult]
) -> None:
    deployed = [r for r in results.values() if r.outcome is HostOutcome.DEPLOYED]
    if not deployed:
        return
    window.emit(
        "--on-failure rollback-all: returning every host deployed in this run to its last-good: "
        + ", ".join(r.host for r in deployed)
    )
    jobs: dict[str, HostJob] = {}
    for result in deployed:
        job = prepared.jobs[result.host]
        target = job.last_good_artifact if job.last_good_artifact is not None else result.captured_config
        if target is None:
            results[result.host] = replace(
                result,
                outcome=HostOutcome.ROLLBACK_FAILED,
                message="rollback-all: no rollback target was kept",
                cause=Cause.ROLLBACK_ALL,
            )
            continue
        jobs[result.host] = HostJob(
            host=job.host,
            platform=job.platform,
            release=job.last_good_release or "",
            artifact=target,
            expectations=job.last_good_expectations,
            expectations_required=False,
            last_good_release=job.release,
            last_good_artifact=job.artifact,
            last_good_expectations=job.expectations,
            revert_in=job.revert_in,
            purpose="rollback-all",
        )
        window.deferred.pop(job.host, None)
    envs = {
        name: window.env(
            prepared.hosts[name],
            prepared.settle_timeout,
            prepared.settle_interval,
            "rollback-all",
            prepared.soak,
        )
        for name in jobs
    }
    for restore in _run_batch(window, loaded, prepared.hosts, jobs, envs, prepared.workers):
        results[restore.host] = _after_rollback_all(results[restore.host], restore)


def _lease_lost(window: _Window) -> Callable[[str, str], None]:
    """When another clone takes a device's lease over (this run stalled past its expiry, and that clone's
    recover took the device): no new host starts; hosts already changed finish, as on Ctrl-C."""

    def lost(host: str, who: str) -> None:
        window.emit(f"{host}: this run lost its lease ({who}): no new host starts")
        window.cancel.cancel(f"the lease of {host} was lost")

    return lost


def _changing(prepared: Prepared) -> set[str]:
    """Hosts whose artifact differs from their last-good (what the window will change)."""
    return {n for n, j in prepared.jobs.items() if j.artifact != j.last_good_artifact}


def _neighbours(prepared: Prepared) -> dict[str, set[str]]:
    """Which hosts share a link or a BGP session, before or after the change (``netimmutable.topology``)."""
    near = adjacency({n: j.artifact for n, j in prepared.jobs.items()})
    before = adjacency({n: j.last_good_artifact for n, j in prepared.jobs.items() if j.last_good_artifact})
    for host, others in before.items():
        near.setdefault(host, set()).update(others)
    return near


def _with_far_ends(prepared: Prepared, batch: Sequence[str]) -> dict[str, HostJob]:
    """The batch's jobs, each knowing which of its BGP far ends, and which other hosts, change alongside it
    (a regression then names them)."""
    changing = {n for n in batch if prepared.jobs[n].artifact != prepared.jobs[n].last_good_artifact}
    peers = peer_hosts({n: prepared.jobs[n].artifact for n in batch})
    return {
        name: replace(
            prepared.jobs[name],
            far_ends={a: h for a, h in peers.get(name, {}).items() if h in changing},
            alongside=tuple(sorted(changing - {name})),
        )
        for name in batch
    }


def _batches(
    window: _Window,
    loaded: LoadedInventory,
    prepared: Prepared,
    policy: _Policy,
    results: dict[str, HostResult],
) -> str:
    """Run the batches in order until the window ends; returns why it ended early ('' when it did not)."""
    for index, batch in enumerate(policy.batches):
        if window.cancel.cancelled:
            return f"interrupted ({window.cancel.reason})"
        is_canary = policy.canary and index == 0
        label = "canary" if is_canary else f"batch {index + (0 if policy.canary else 1)}"
        window.emit(f"{label}: {', '.join(batch)}")
        jobs = _with_far_ends(prepared, batch)
        board = BatchBoard(batch)
        envs = {
            name: window.env(
                prepared.hosts[name],
                prepared.settle_timeout,
                prepared.settle_interval,
                policy.message,
                prepared.soak,
                board,
            )
            for name in batch
        }
        for result in _run_batch(window, loaded, prepared.hosts, jobs, envs, prepared.workers):
            results[result.host] = result
        failures = [r for r in results.values() if _failed(r)]
        if is_canary and any(_failed(results[n]) for n in batch):
            return "the canary failed: no other host was touched"
        if policy.on_failure != "continue" and len(failures) >= policy.max_failures:
            return (
                f"failure budget spent: {len(failures)} host(s) failed (--max-failures {policy.max_failures})"
            )
        if window.cancel.cancelled:
            return f"interrupted ({window.cancel.reason})"
    return ""


def _run_window(
    window: _Window,
    loaded: LoadedInventory,
    prepared: Prepared,
    policy: _Policy,
    results: dict[str, HostResult],
    ended: list[bool],
) -> str:
    """The batches, under the window's own Ctrl-C handling; ``ended`` is set as soon as they are over."""
    with window.sigint():
        stopped = _batches(window, loaded, prepared, policy, results)
        if stopped:
            window.emit(f"window stopped: {stopped}")
        cause = Cause.INTERRUPTED if window.cancel.cancelled else Cause.NOT_ATTEMPTED
        for name, job in prepared.jobs.items():
            if name not in results:
                results[name] = _not_attempted(job, stopped or "the window stopped", cause)
        if stopped and policy.on_failure == "rollback-all" and not window.cancel.cancelled:
            _rollback_all(window, loaded, prepared, results)
        ended.append(True)  # before the window's handler goes: no gap for a Ctrl-C to fall into
    marks = [(host, release) for host, release in window.deferred.items() if results[host].outcome.ok]
    window.records.mark_good_many(marks, window.run_id)
    return stopped


def _execute(window: _Window, loaded: LoadedInventory, prepared: Prepared, policy: _Policy) -> RunReport:
    repo = window.repo
    started, clock = utc_now(), time.monotonic()
    if prepared.unknown_drivers:
        window.emit(
            "drivers netimmutable does not know: "
            + ", ".join(prepared.unknown_drivers)
            + ": no commit message, no device-side revert timer, running compared through the device's own "
            "compare_config, rollback by full replace with the last-good artifact"
        )
    if prepared.no_timer:
        window.emit(
            "no device-side revert timer on "
            + ", ".join(prepared.no_timer)
            + ": if the connection is lost after a commit, the device keeps the change; netimmutable rolls "
            "back by full replace with the last-good artifact"
        )
    results: dict[str, HostResult] = {}
    journal: Journal | None = None
    ended: list[bool] = []  # set once the window is over: a Ctrl-C then never loses records, locks, leases
    with window.sigint(finishing=lambda: bool(ended)), contextlib.ExitStack() as stack:
        stack.enter_context(repo_lock(repo, window.run_id, policy.kind))
        check_unfinished(repo)  # a killed or UNKNOWN-ending run must be recovered first
        locks = stack.enter_context(
            device_locks(
                repo,
                prepared.jobs,
                window.run_id,
                policy.kind,
                on_lost=_lease_lost(window),
                on_leases=window.take_leases,
            )
        )
        try:
            journal = Journal.open(repo, window.run_id, kind=policy.kind, release=policy.release)
            window.journal = journal
            stopped = _run_window(window, loaded, prepared, policy, results, ended)
        except BaseException:
            for name, job in prepared.jobs.items():
                results.setdefault(name, _not_attempted(job, "the run was aborted", Cause.INTERRUPTED))
            if journal is not None:
                for name in sorted(journal.in_flight()):  # the journal stays unfinished for `recover`
                    locks[name].keep(f"run {window.run_id} was aborted mid-change: `netimmutable recover`")
            _write_record(window, prepared, policy, results, started, "aborted")
            if journal is not None:
                journal.abandon()
            raise
        # a device in no verified state keeps its lock and stays in flight in the journal (unresolved)
        unsettled = sorted({r.host for r in results.values() if r.outcome.unsettled} | journal.in_flight())
        for name in unsettled:
            result = results[name]
            locks[name].keep(
                f"run {window.run_id} left {name} {result.outcome.value}: check it, then "
                "`netimmutable recover`"
            )
            journal.unresolved(name, result.message.splitlines()[0][:200] if result.message else "")
            results[name] = replace(
                result,
                message=result.message
                + "\nits device lock is kept and the run stays unfinished: `netimmutable recover` settles it",
            )
        record_sha, record_error = _write_record(window, prepared, policy, results, started, stopped)
        journal.close()  # hosts left unresolved stay unfinished: `netimmutable recover` picks them up
    return RunReport(
        run_id=window.run_id,
        kind=policy.kind,
        release=policy.release,
        started_utc=started,
        ended_utc=utc_now(),
        operator=window.records.operator(),
        hosts=tuple(results[name] for name in prepared.jobs),
        flags=policy.flags,
        no_timer_hosts=prepared.no_timer,
        stopped=stopped,
        interrupted=window.cancel.cancelled,
        record_sha=record_sha,
        record_error=record_error,
        seconds=round(time.monotonic() - clock, 3),
    )


def _write_record(
    window: _Window,
    prepared: Prepared,
    policy: _Policy,
    results: Mapping[str, HostResult],
    started: str,
    stopped: str,
) -> tuple[str | None, str | None]:
    hosts = []
    for name, job in prepared.jobs.items():
        r = results[name]
        target = None
        if r.changed:
            target = job.last_good_release or ("captured" if r.captured_config else None)
        hosts.append(
            HostRecord(
                host=name,
                outcome=r.outcome,
                cause=r.cause,
                failed_utc=r.failed_utc,
                ended_utc=r.ended_utc,
                message=r.message,
                release=r.release or None,
                device_diff=r.device_diff,
                pre_config_digest=r.pre_config_digest,
                post_config_digest=r.post_config_digest,
                pre_state_digest=r.pre_digest,
                post_state_digest=r.post_digest,
                rollback_target=target,
            )
        )
    run = RunRecord(
        run_id=window.run_id,
        kind=policy.kind,
        release=policy.release,
        started_utc=started,
        ended_utc=utc_now(),
        operator=window.records.operator(),
        hosts=tuple(hosts),
        flags=policy.flags,
        message=stopped,
    )
    captured = {r.host: r.captured_config for r in results.values() if r.captured_config}
    try:
        with window.git_lock:
            return window.records.write_run(run, captured), None
    except NetImmutableError as exc:
        return None, str(exc)


def _confirmed(
    window: _Window,
    confirm: Confirm | None,
    prepared: Prepared,
    policy: _Policy,
    summary: str,
    on_failure: str,
) -> None:
    """Ask ``confirm`` (when given) with what the window will do; refuse when it says no."""
    if confirm is None:
        return
    recorded = None
    if policy.kind == "rollback":
        recorded = {n: window.records.good_artifact(n) for n in prepared.jobs}
    hosts = host_changes(
        policy.kind,
        prepared,
        resolve=window.secrets.resolve,
        extra=window.repo.settings.ignore_lines,
        recorded=recorded,
    )
    summary_of_window = WindowSummary(
        kind=policy.kind,
        release=policy.release,
        release_summary=summary,
        hosts=hosts,
        batches=policy.batches,
        no_timer=prepared.no_timer,
        on_failure=on_failure,
        max_failures=policy.max_failures,
    )
    if not confirm(summary_of_window):
        raise NotConfirmed(f"{policy.kind} not confirmed: nothing was touched")


# ------------------------------------------------------------------------------ entry points
def deploy(
    repo: NetworkRepo, options: DeployOptions, progress: Progress = _quiet, confirm: Confirm | None = None
) -> RunReport:
    """Run a change window for an approved release (see the module docstring).

    ``confirm``: asked once with a ``WindowSummary`` before anything is locked or touched (the CLI asks a
    person on a terminal); None: no confirmation.
    """
    # closing git stops its cat-file helper processes; closing the cluster, its Dask client
    with open_git(repo) as gitrepo, contextlib.ExitStack() as stack:
        return _deploy(repo, gitrepo, options, progress, confirm, stack)


def _deploy(
    repo: NetworkRepo,
    gitrepo: git.Repo,
    options: DeployOptions,
    progress: Progress,
    confirm: Confirm | None,
    stack: contextlib.ExitStack,
) -> RunReport:
    loaded = load_inventory(repo)
    gated = gate(repo, gitrepo, options)
    in_release = set(hosts_in(gated.artifacts))
    selected = [h for h in select_hosts(loaded, options.limit, options.filters) if h.name in in_release]
    if options.limit:
        missing = sorted(set(options.limit) - in_release)
        if missing:
            raise InputError(f"release {gated.release.short} has no artifacts for: {', '.join(missing)}")
    if not selected:
        raise InputError("no hosts selected", hint="check --limit / --filter")
    records = Records(repo, gitrepo)
    settings = repo.settings.deploy
    on_failure: OnFailure = options.on_failure or settings.on_failure
    run_id = new_run_id()
    window = _Window(repo, gitrepo, records, progress, run_id, defer_good=on_failure == "rollback-all")
    releases = {h.name: gated.release.sha for h in selected}
    prepared = prepare(
        repo, gitrepo, records, selected, releases, {gated.release.sha: gated.artifacts}, options
    )
    on_cluster = cluster_options(repo.settings.cluster, options.cluster)
    if on_cluster is not None:  # unreachable: fails here, before any lock is taken or device touched
        window.cluster = stack.enter_context(connect(on_cluster))
        window.emit(f"cluster: each host's steps run on a worker of {on_cluster.address}")
    else:  # on a cluster, each worker resolves its hosts' secrets itself (docs/scale.md)
        window.secrets.require(
            [j.artifact for j in prepared.jobs.values()]
            + [j.last_good_artifact for j in prepared.jobs.values() if j.last_good_artifact]
        )
    for note in (*gated.notes, *prepared.notes):
        window.emit(f"gate: {note}")
    canary = options.canary if options.canary is not None else str(settings.canary)
    policy = _Policy(
        kind="deploy",
        release=gated.release.sha,
        batches=plan_window(
            list(prepared.jobs),
            canary,
            options.batch_size or settings.batch_size,
            changing=_changing(prepared),
            adjacent=None if options.allow_adjacent else _neighbours(prepared),
        ),
        canary=canary.strip() not in ("0", ""),
        max_failures=max(1, settings.max_failures if options.max_failures is None else options.max_failures),
        on_failure=on_failure,
        flags=options.flags(),
        message=options.message or f"netimmutable deploy {gated.release.short} (run {run_id})",
    )
    _confirmed(window, confirm, prepared, policy, gated.release.summary, on_failure)
    window.emit(
        f"deploying release {gated.release.short} ({gated.release.summary}) to {len(prepared.jobs)} host(s) "
        f"in {len(policy.batches)} batch(es); on failure: {on_failure}, max failures: {policy.max_failures}"
    )
    return _execute(window, loaded, prepared, policy)


def _learn_recorded_secrets(secrets: Secrets, records: Records, hosts: Sequence[str]) -> None:
    """Resolve (best effort) the secrets of each host's recorded last-good config: the device most likely
    holds those values, and a rollback's device diff and captured config must show them as placeholders."""
    for host in hosts:
        with contextlib.suppress(NetImmutableError):
            config = records.good_artifact(host)
            for name in sorted(secret_names([config or ""])):
                with contextlib.suppress(SecretError):
                    secrets.value(name)


def rollback(
    repo: NetworkRepo,
    hosts: Sequence[str],
    to_rev: str | None,
    options: DeployOptions,
    progress: Progress = _quiet,
    confirm: Confirm | None = None,
) -> RunReport:
    """Push each host's last-good release (or ``to_rev``) through the same pipeline and checks.

    ``confirm``: as for ``deploy``.
    """
    with open_git(repo) as gitrepo:
        return _rollback(repo, gitrepo, hosts, to_rev, options, progress, confirm)


def _rollback(
    repo: NetworkRepo,
    gitrepo: git.Repo,
    hosts: Sequence[str],
    to_rev: str | None,
    options: DeployOptions,
    progress: Progress,
    confirm: Confirm | None,
) -> RunReport:
    loaded = load_inventory(repo)
    selected = list(select_hosts(loaded, hosts))
    if not selected:
        raise InputError("name at least one host to roll back")
    records = Records(repo, gitrepo)
    releases: dict[str, str] = {}
    given = None
    skipped: tuple[str, ...] = ()  # checks `--to` skips without being asked: recorded like the overrides
    if to_rev is not None:
        given = check_approved(repo, gitrepo, to_rev, allow_dirty=True)  # pushes git objects only
        if not options.allow_dirty and dirty_paths(repo, gitrepo):
            skipped = ("--allow-dirty",)
        releases = {h.name: given.sha for h in selected}
    else:
        trust = GoodTrust(repo, gitrepo, records)
        for host in selected:
            good = records.last_good(host.name)
            if good is None:
                raise InputError(
                    f"{host.name} has no last-good release to roll back to",
                    host=host.name,
                    hint="use --to REV",
                )
            trust.require(good, f"rollback {host.name}")
            releases[host.name] = good.release
    artifacts = {
        sha: read_artifacts(gitrepo, sha, repo.settings.snapshots_dir)
        for sha in sorted(set(releases.values()))
    }
    if given is not None:  # a given release passes the deploy's gate (last-good ones did when deployed)
        note = require_content(repo, gitrepo, given.sha, allow_stale=options.allow_stale)
        if note:
            progress(ProgressEvent(None, Phase.WINDOW, f"gate: {note}"))
    run_id = new_run_id()
    window = _Window(repo, gitrepo, records, progress, run_id, defer_good=False)
    prepared = prepare(repo, gitrepo, records, selected, releases, artifacts, options, purpose="rollback")
    window.secrets.require([j.artifact for j in prepared.jobs.values()])
    _learn_recorded_secrets(window.secrets, records, list(prepared.jobs))
    names = list(prepared.jobs)
    size = options.batch_size or repo.settings.deploy.batch_size
    policy = _Policy(
        kind="rollback",
        release=next(iter(releases.values())) if to_rev is not None else None,
        batches=tuple(tuple(names[i : i + size]) for i in range(0, len(names), size)),
        canary=False,
        max_failures=len(names) + 1,
        on_failure="continue",
        flags=(*options.flags(), *((f"--to={to_rev}",) if to_rev else ()), *skipped),
        message=f"netimmutable rollback (run {run_id})",
    )
    _confirmed(window, confirm, prepared, policy, given.summary if given is not None else "", "continue")
    window.emit(
        "rolling back "
        + ", ".join(f"{n} to {releases[n][:10]}" for n in names)
        + " (drift is shown, not refused: the device is expected to be off its last-good)"
    )
    return _execute(window, loaded, prepared, policy)
