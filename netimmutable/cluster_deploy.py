"""``deploy --cluster``: each host's pipeline runs on a Dask worker; the CLI process stays the coordinator.

Coordinator (``run_batch``): one task per host of the batch through ``netimmutable.cluster.Cluster.map_hosts``
with ``reschedule_lost=False`` (a device change is never run twice), while a ``Dispatcher`` serves the
workers' journal, records, lease, batch-board and progress calls with the host's coordinator-side
``PipelineEnv`` (``netimmutable.cluster_channel``). Batches, canary, failure budget, rollback-all and the
summary are the window's own (``netimmutable.deploy``): only where a host's steps run changes.

Worker (``deploy_host``): the host's device is opened from its payload with the worker's own credentials
(``netimmutable.cluster.host_from_payload``); config secrets are resolved on the worker, from its own
environment (``NETIMMUTABLE_SECRET_<NAME>``) or the secrets file / command the settings name (an absolute
path on the worker's machine): no secret value is ever in a payload, a channel message or a result (results
and journal outcomes are masked on the worker, as in process). A secret the worker cannot resolve fails the
host before it is touched.

A worker that dies mid-run: the host comes back ``lost``. When the journal holds no step of it, nothing was
changed (every device-changing step is journaled, and acknowledged, first): FAILED, its lock released. Else
UNKNOWN, naming the worker and the last step the journal holds; its lock is kept and the run stays
unfinished for ``netimmutable recover`` (the device-side revert timer and the journal decide). It is not
recovered in the run: a worker the scheduler declared dead may still be acting on the device (a network
partition), and two actors on one device is what the lock forbids.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nornir.core.inventory import Host

from netimmutable.cluster import (
    Cluster,
    ClusterOptions,
    TaskOutcome,
    host_from_payload,
    host_payload,
    sites_of,
)
from netimmutable.cluster_channel import (
    ACK_TIMEOUT,
    ChannelNames,
    CoordinatorLink,
    Dispatcher,
    LinkError,
    RemoteBoard,
    RemoteCancel,
    RemoteJournal,
)
from netimmutable.deploy_model import (
    CancelToken,
    HostDevice,
    HostJob,
    HostResult,
    Phase,
    PipelineEnv,
    ProgressEvent,
)
from netimmutable.errors import JournalWriteFailed, NetImmutableError
from netimmutable.outcomes import Cause, HostOutcome
from netimmutable.secrets import SecretError, Secrets
from netimmutable.soak import SoakSetting

__all__ = ["BatchContext", "DeployCluster", "HostTask", "connect", "deploy_host", "lost_result", "run_batch"]

_PHASE_OF_STEP = {
    "load": Phase.LOAD,
    "commit": Phase.COMMIT,
    "confirm": Phase.CONFIRM,
    "rollback": Phase.ROLLBACK,
    "discard": Phase.LOAD,
}


class DeployCluster(Cluster):
    """``Cluster`` plus the Dask client the deploy's channel is opened with."""

    @property
    def client(self) -> Any:
        return self._client

    def __enter__(self) -> DeployCluster:
        return self


@dataclass(frozen=True, slots=True)
class HostTask:
    """What one host's task carries: the job (artifacts with placeholders), how to open the device (no
    password), the window's settings, the channel's names, where the worker finds config secrets."""

    job: HostJob
    host: dict[str, Any]
    names: ChannelNames
    settle_timeout: float
    settle_interval: float
    commit_message: str
    soak: SoakSetting
    extra_patterns: tuple[str, ...]
    reconnect_tries: int
    reconnect_delay: float
    board: bool
    keep_captured: bool
    secrets_file: str | None
    secrets_command: tuple[str, ...]


# ------------------------------------------------------------------------------ worker side
def _worker_secrets(task: HostTask) -> Secrets:
    file = Path(task.secrets_file).expanduser() if task.secrets_file else None
    return Secrets(None, file=file, command=task.secrets_command)


def _env(task: HostTask, link: CoordinatorLink, cancel: CancelToken, secrets: Secrets) -> PipelineEnv:
    host = host_from_payload(task.host)

    def opener() -> HostDevice:
        from netimmutable.device import Device  # the device boundary: only on the worker

        return Device.open(host)

    def progress(event: ProgressEvent) -> None:
        link.send(
            "progress",
            phase=event.phase.value,
            message=event.message,
            outcome=event.outcome.value if event.outcome is not None else None,
        )

    def mark_good(name: str, release: str) -> None:
        link.call("mark_good", release=release)

    def keep_captured(name: str, text: str) -> str:
        try:
            return str(link.call("keep_captured", text=text))
        except LinkError as exc:  # the commit's journal entry would lack its rollback config: not taken
            raise JournalWriteFailed(f"the captured config could not be kept: {exc.message}") from None

    def fence(name: str) -> str:
        try:
            return str(link.call("fence") or "")
        except LinkError as exc:  # no word from the coordinator: act as if the lease were lost
            return f"the coordinator cannot be asked about the lease ({exc.message})"

    return PipelineEnv(
        open_device=opener,
        resolve=secrets.resolve,
        mask=secrets.mask,
        secret_values=lambda: secrets.resolved,
        mark_good=mark_good,
        settle_timeout=task.settle_timeout,
        settle_interval=task.settle_interval,
        commit_message=task.commit_message,
        soak=task.soak,
        extra_patterns=task.extra_patterns,
        progress=progress,
        cancel=cancel,
        journal=RemoteJournal(link),
        keep_captured=keep_captured if task.keep_captured else None,
        reconnect_tries=task.reconnect_tries,
        reconnect_delay=task.reconnect_delay,
        board=RemoteBoard(link) if task.board else None,  # type: ignore[arg-type]
        fence=fence,
    )


def _unresolved(job: HostJob, exc: SecretError) -> HostResult:
    """A secret of the host this worker cannot resolve: a prerequisite missing, found before any change."""
    return HostResult(
        host=job.host,
        outcome=HostOutcome.REFUSED,
        message=f"refused before any change: {exc.message} on this worker "
        f"({exc.hint or 'set it in its environment'})",
        phase=Phase.CONNECT,
        release=job.release,
        cause=Cause.PREFLIGHT,
    )


def deploy_host(task: HostTask) -> HostResult:
    """Run on a worker: the host's pipeline (``netimmutable.push.run_host``), its journal, records, lease
    and progress calls sent to the coordinator."""
    from distributed import get_worker

    from netimmutable.push import run_host

    client = get_worker().client
    link = CoordinatorLink(task.names, task.job.host, client)
    try:
        secrets = _worker_secrets(task)
        job = task.job
        try:
            secrets.require([job.artifact, *([job.last_good_artifact] if job.last_good_artifact else [])])
        except SecretError as exc:
            result = _unresolved(job, exc)
            with contextlib.suppress(LinkError):
                link.send(
                    "progress", phase=result.phase.value, message=result.message, outcome=result.outcome.value
                )
        else:
            result = run_host(job, _env(task, link, RemoteCancel(task.names, client), secrets))
        with contextlib.suppress(LinkError):
            link.call("flush")  # every progress line of the host is shown before its result
        return result
    finally:
        link.close()


# ------------------------------------------------------------------------------ coordinator side
def lost_result(job: HostJob, worker: str, journal: Sequence[str], why: str) -> HostResult:
    """The result of a host whose worker died (``why``), from what the journal holds of it."""
    who = f"worker {worker}" if worker else "its worker"
    befores = [e.removeprefix("before ") for e in journal if e.startswith("before ")]
    if not befores:
        return HostResult(
            host=job.host,
            outcome=HostOutcome.FAILED,
            message=f"not changed: {who} died before any change ({why}); the journal holds no step of it, "
            "so the device was not touched by this run; deploy it again",
            phase=Phase.PRECHECK,
            release=job.release,
            cause=Cause.WORKER_LOST,
            worker=worker,
        )
    last = journal[-1]
    committed = any(step in ("commit", "confirm", "rollback") for step in befores)
    return HostResult(
        host=job.host,
        outcome=HostOutcome.UNKNOWN,
        message=f"{who} died mid-change ({why}); the journal's last entry of the host: {last}. The host is "
        "not run again (a device change is never retried blindly): "
        + (
            "its revert timer, if it had one, puts the old config back unless the change was confirmed. "
            if committed
            else "it may hold a loaded candidate. "
        )
        + "Run `netimmutable recover`: it inspects the device, the journal decides",
        phase=_PHASE_OF_STEP.get(befores[-1], Phase.COMMIT),
        release=job.release,
        changed=committed,
        cause=Cause.WORKER_LOST,
        worker=worker,
    )


def _result_of(outcome: TaskOutcome[HostResult], job: HostJob, dispatcher: Dispatcher) -> HostResult:
    if outcome.lost:
        return lost_result(
            job, outcome.worker, dispatcher.journal_of(job.host), outcome.error.splitlines()[0]
        )
    if isinstance(outcome.value, HostResult):
        return replace(outcome.value, worker=outcome.worker)
    detail = outcome.error.splitlines()[0] if outcome.error else "no result"
    if not outcome.worker:  # never started: no worker can run it (site affinity)
        return HostResult(
            host=job.host,
            outcome=HostOutcome.UNREACHABLE,
            message=f"not attempted: {detail}",
            phase=Phase.CONNECT,
            release=job.release,
            cause=Cause.UNREACHABLE,
        )
    return HostResult(
        host=job.host,
        outcome=HostOutcome.UNKNOWN,
        message=f"internal error in the host pipeline on worker {outcome.worker}: {detail}; check the device",
        phase=Phase.DONE,
        release=job.release,
        cause=Cause.INTERNAL,
        worker=outcome.worker,
    )


@dataclass(frozen=True, slots=True)
class BatchContext:
    """What the coordinator passes for one batch besides the jobs and their envs."""

    cluster: DeployCluster
    hosts: Mapping[str, Host]
    cancel: CancelToken
    secrets_file: str | None = None
    secrets_command: tuple[str, ...] = ()
    ack_timeout: float = ACK_TIMEOUT


def run_batch(
    ctx: BatchContext, jobs: Mapping[str, HostJob], envs: Mapping[str, PipelineEnv]
) -> list[HostResult]:
    """Run one batch's hosts on the cluster; their results in the order of ``jobs``."""
    options: ClusterOptions = ctx.cluster.options
    names = ChannelNames.new("netimmutable-deploy", ctx.ack_timeout)
    data_keys = (options.site_key,) if options.site_key else ()
    payloads = {
        name: HostTask(
            job=job,
            host=host_payload(ctx.hosts[name], data_keys=data_keys),
            names=names,
            settle_timeout=envs[name].settle_timeout,
            settle_interval=envs[name].settle_interval,
            commit_message=envs[name].commit_message,
            soak=envs[name].soak,
            extra_patterns=tuple(envs[name].extra_patterns),
            reconnect_tries=envs[name].reconnect_tries,
            reconnect_delay=envs[name].reconnect_delay,
            board=envs[name].board is not None,
            keep_captured=envs[name].keep_captured is not None,
            secrets_file=ctx.secrets_file,
            secrets_command=ctx.secrets_command,
        )
        for name, job in jobs.items()
    }
    sites = sites_of([ctx.hosts[name] for name in jobs], options.site_key)
    results: dict[str, HostResult] = {}
    with Dispatcher(ctx.cluster.client, names, envs, ctx.cancel) as dispatcher:

        def done(outcome: TaskOutcome[HostResult]) -> None:
            dispatcher.close_host(outcome.host)
            results[outcome.host] = _result_of(outcome, jobs[outcome.host], dispatcher)
            if outcome.lost or not isinstance(outcome.value, HostResult):
                result = results[outcome.host]
                with contextlib.suppress(Exception):  # a broken display never breaks a window
                    envs[outcome.host].progress(
                        ProgressEvent(
                            outcome.host, result.phase, result.message.splitlines()[0], result.outcome
                        )
                    )

        ctx.cluster.map_hosts(
            deploy_host,
            payloads,
            sites=sites,
            reschedule_lost=False,
            on_done=done,
            key_prefix=f"{names.channel}-host",
        )
        for name in jobs:  # map_hosts reports every host; a bug otherwise, never a silent success
            if name not in results:
                dispatcher.close_host(name)
                results[name] = lost_result(
                    jobs[name], "", dispatcher.journal_of(name), "the cluster reported nothing for it"
                )
    return [results[name] for name in jobs]


def connect(options: ClusterOptions) -> DeployCluster:
    """Reach the scheduler before anything is locked or touched (``ClusterError`` names the address)."""
    cluster = DeployCluster.connect(options)
    if not isinstance(cluster, DeployCluster):  # Cluster.connect builds ``cls``
        raise NetImmutableError("internal: the cluster connection is not a DeployCluster")
    return cluster
