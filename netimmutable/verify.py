"""``netimmutable verify``: does every device still run exactly its committed configuration?

For each selected host: find its baseline (the artifact of its last-good release from the deployment
records, or of ``--against REV``), read the running config, normalize both (``netimmutable.normalize``),
compare digests, and compute a diff only when they differ. Unless ``expectations`` is off, the host's
``.expect.yaml`` of the same release, when it has one, is evaluated on the device (NAPALM
``compliance_report``). Hosts run in
parallel through Nornir; the Nornir results become typed ``VerifiedHost`` s in one place (``_outcome``).

Nothing here changes a device: one session per host, ``get_config`` and the getters of the expectations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import git
from nornir.core.inventory import Host
from nornir.core.task import AggregatedResult, MultiResult, Result, Task

from netimmutable import __version__
from netimmutable.artifacts import open_git, read_artifacts, resolve_release
from netimmutable.checks import compliance_failures, expectations_problem
from netimmutable.cluster import Cluster, ClusterOptions
from netimmutable.compare import Comparison, Strategy, compare_running, strategy_for
from netimmutable.compliance import all_compliant, check_features, parser_for
from netimmutable.connections import prepare_hosts
from netimmutable.device import Device
from netimmutable.errors import ConnectError, NetImmutableError, Unsupported
from netimmutable.fanout import auto_processes, fan_out
from netimmutable.inventory import LoadedInventory, make_nornir
from netimmutable.journal import unfinished_runs
from netimmutable.leases import leased_hosts
from netimmutable.locks import list_locks
from netimmutable.normalize import config_digest, diff_normalized, mask, normalize, resolve_secrets
from netimmutable.records import Records, new_run_id, utc_now
from netimmutable.render import CONFIG_SUFFIX, EXPECT_SUFFIX
from netimmutable.repo import NetworkRepo
from netimmutable.secrets import Secrets, secret_names
from netimmutable.settings import ComplianceSettings
from netimmutable.trust import GoodTrust
from netimmutable.verify_digests import ArtifactDigests, known_digest, remember_digests
from netimmutable.verify_model import HostState, Remediation, VerifiedHost, VerifyPolicy, VerifyReport

__all__ = [
    "Baseline",
    "DeviceReading",
    "VerifyOptions",
    "load_baselines",
    "read_running",
    "remediation_for",
    "run_verify",
]

_WHOLE_RELEASE_READ = 20
"""Read every artifact of a release at once when at least this many hosts use it."""


@dataclass(frozen=True, slots=True)
class Baseline:
    """What one host should run. ``config`` None: nothing to compare with (``problem`` says why)."""

    host: str
    release: str | None
    source: str
    """``last-good`` or ``rev``."""
    config: str | None = None
    expectations: str | None = None
    problem: str = ""
    problem_state: HostState = HostState.NO_BASELINE


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    against: str | None = None
    expectations: bool = True
    """Evaluate each host's expectations of its release, when it has them (``--no-expectations``: off)."""
    workers: int = 50
    policy: VerifyPolicy = field(default_factory=VerifyPolicy)
    processes: int = 0
    """Processes to spread the hosts over (0: by fleet size and cores; 1: in this process)."""
    cluster: ClusterOptions | None = None
    """Run the device steps on this Dask cluster (``--cluster``); None: in this machine's processes."""


@dataclass(frozen=True, slots=True)
class _Context:
    extra: tuple[str, ...]
    secrets: Mapping[str, str] = field(repr=False)  # never in Nornir's task log
    expectations: bool
    snapshots_dir: str = "snapshots"
    compliance: ComplianceSettings = field(default_factory=ComplianceSettings)
    compare: Mapping[str, str] = field(default_factory=dict)
    """The ``compare`` setting: driver -> strategy overrides."""
    digests: ArtifactDigests | None = None
    """Digests of normalized artifacts from earlier runs (``netimmutable.verify_digests``)."""


def load_baselines(
    repo: NetworkRepo, gitrepo: git.Repo, names: Sequence[str], against: str | None
) -> tuple[str | None, dict[str, Baseline]]:
    """Each host's baseline; returns (the ``--against`` release sha or None, host -> baseline)."""
    snap = repo.settings.snapshots_dir
    if against is not None:
        release = resolve_release(gitrepo, against).sha
        files = read_artifacts(gitrepo, release, snap)
        out: dict[str, Baseline] = {}
        for name in names:
            config = files.get(f"{name}{CONFIG_SUFFIX}")
            problem = (
                "" if config is not None else f"release {release[:10]} has no {snap}/{name}{CONFIG_SUFFIX}"
            )
            out[name] = Baseline(name, release, "rev", config, files.get(f"{name}{EXPECT_SUFFIX}"), problem)
        return release, out
    records = Records(repo, gitrepo)
    entries = records.last_good_many(names)
    trust = GoodTrust(repo, gitrepo, records)
    untrusted = {
        name: why for name, entry in entries.items() if entry is not None and (why := trust.problem(entry))
    }
    good = {name: entry.release if entry else None for name, entry in entries.items()}
    users: dict[str, int] = {}
    for release_sha in good.values():
        if release_sha:
            users[release_sha] = users.get(release_sha, 0) + 1
    whole = {sha: read_artifacts(gitrepo, sha, snap) for sha, n in users.items() if n >= _WHOLE_RELEASE_READ}
    result: dict[str, Baseline] = {}
    for name, release_sha in good.items():
        if name in untrusted:
            result[name] = Baseline(
                name,
                release_sha,
                "last-good",
                problem=f"the baseline is not trusted: {untrusted[name]}",
                problem_state=HostState.UNTRUSTED_BASELINE,
            )
            continue
        if release_sha is None:
            result[name] = Baseline(
                name,
                None,
                "last-good",
                problem="never deployed: no last-good release is recorded for this host "
                f"(refs/netimmutable/good/{name})",
            )
            continue
        if release_sha in whole:
            config = whole[release_sha].get(f"{name}{CONFIG_SUFFIX}")
            expect = whole[release_sha].get(f"{name}{EXPECT_SUFFIX}")
        else:
            config = records.artifact(release_sha, name)
            expect = records.expectations(release_sha, name)
        if config is None:
            result[name] = Baseline(
                name,
                release_sha,
                "last-good",
                problem=f"the last-good release {release_sha[:10]} has no {snap}/{name}{CONFIG_SUFFIX}",
                problem_state=HostState.ERROR,
            )
        else:
            result[name] = Baseline(name, release_sha, "last-good", config, expect)
    return None, result


def hosts_in_flight(repo: NetworkRepo) -> dict[str, str]:
    """Host -> which run holds it: a host of a journal without its end (the run is running, or died
    mid-change), or one whose device lock a live run holds."""
    held: dict[str, str] = {}
    for run in unfinished_runs(repo, include_alive=True):
        how = "in progress" if run.alive else "unfinished: its process is gone"
        for step in run.hosts:
            held.setdefault(
                step.host,
                f"in flight: run {run.run_id} ({run.kind} by {run.user}, started {run.started_utc}) "
                f"is {how}; its last step on this host: {step.step}",
            )
    for lock in list_locks(repo):
        name = lock.path.stem
        if lock.info is not None and not lock.stale and name.startswith("device-"):
            held.setdefault(
                name.removeprefix("device-"),
                f"in flight: run {lock.info.run_id} ({lock.info.purpose}) holds its device lock",
            )
    for host, who in leased_hosts(repo).items():  # runs of other clones (and CI runners)
        held.setdefault(host, f"in flight: {who}")
    return held


def remediation_for(state: HostState, host: str, baseline: Baseline | None) -> tuple[Remediation, ...]:
    """Commands a person can run next (docs/verify.md explains them).

    Examples:
        >>> [r.command for r in remediation_for(HostState.DRIFT, "r1", None)]
        ['netimmutable rollback r1', 'netimmutable show-running r1']
    """
    release = baseline.release[:10] if baseline and baseline.release else None
    if state is HostState.DRIFT:
        to = f" --to {release}" if baseline is not None and baseline.source == "rev" and release else ""
        target = f"release {release}" if release else "its last-good release"
        return (
            Remediation(
                "restore",
                f"netimmutable rollback {host}{to}",
                f"put {host} back on {target} (full replace, verified)",
            ),
            Remediation(
                "keep",
                f"netimmutable show-running {host}",
                "show the running config (secrets masked); to keep the change, put it into templates/"
                "inventory, `netimmutable commit`, review the release diff and deploy it",
            ),
        )
    template = _REMEDIATIONS.get(state)
    if template is None:
        return ()
    action, command, description = template
    return (Remediation(action, command.format(host=host), description.format(host=host)),)


_REMEDIATIONS: dict[HostState, tuple[str, str, str]] = {
    HostState.EXPECTATIONS_FAILED: (
        "check",
        "netimmutable verify --limit {host}",
        "the config is as committed but the device state is not as expected: check neighbours, "
        "links and the expectations file; verify again once fixed",
    ),
    HostState.NO_BASELINE: (
        "deploy",
        "netimmutable deploy --limit {host}",
        "deploy an approved release to the host (or fetch the deployment records: "
        "`git fetch origin 'refs/netimmutable/*:refs/netimmutable/*'`)",
    ),
    HostState.UNTRUSTED_BASELINE: (
        "check",
        "git reflog refs/netimmutable/good/{host}",
        "find who moved the good ref; restore it to the release last verified on the device, or "
        "delete it (`git update-ref -d refs/netimmutable/good/{host}`) and deploy a release",
    ),
    HostState.IN_FLIGHT: (
        "check",
        "netimmutable status",
        "a run is changing this host: let it finish, or, when its process is gone, "
        "`netimmutable recover` settles it; then verify again",
    ),
    HostState.UNREACHABLE: (
        "check",
        "netimmutable verify --limit {host}",
        "check the device, its address in .netimmutable/connections.yaml and the credentials",
    ),
}


def _result(host: Host, state: HostState, baseline: Baseline | None, **kwargs: Any) -> VerifiedHost:
    return VerifiedHost(
        host=host.name,
        platform=str(host.platform),
        state=state,
        checked_utc=kwargs.pop("checked_utc", None) or utc_now(),
        release=baseline.release if baseline else None,
        baseline=baseline.source if baseline else "last-good",
        remediation=remediation_for(state, host.name, baseline),
        **kwargs,
    )


def _message(exc: NetImmutableError, ctx: _Context) -> str:
    text = exc.message + (f"\nhint: {exc.hint}" if exc.hint else "")
    return mask(text, ctx.secrets)


@dataclass(frozen=True, slots=True)
class DeviceReading:
    """What one host's device steps found, before any verdict (``_read``; on a cluster worker when the
    verdict needs secret values that stay on the coordinator). Holds the raw running config."""

    checked_utc: str
    elapsed_s: float
    running: str | None
    seen: Comparison | None
    report: Mapping[str, Any] | None
    problem: str | None


def _check(host: Host, baseline: Baseline, ctx: _Context) -> VerifiedHost:
    """Verify one host against its baseline (runs in a Nornir worker thread, or on a cluster worker)."""
    reading = _read(host, baseline, ctx)
    return reading if isinstance(reading, VerifiedHost) else _judge(host, baseline, ctx, reading)


def _read(host: Host, baseline: Baseline, ctx: _Context) -> DeviceReading | VerifiedHost:
    """The device steps of ``_check``; a host whose device failed is its result already."""
    started = time.monotonic()
    when = utc_now()
    assert baseline.config is not None  # noqa: S101 - hosts without a baseline never reach a device
    problem = expectations_problem(baseline.expectations, False) if ctx.expectations else None
    want_compliance = ctx.expectations and baseline.expectations is not None and problem is None
    report: Mapping[str, Any] | None = None
    seen: Comparison | None = None
    try:
        with Device.open(host) as device:
            strategy = strategy_for(device.driver_name, ctx.compare)  # the session read the driver's name
            running = _running_or_none(device, strategy)
            if strategy is not Strategy.TEXT:
                seen = compare_running(
                    device,
                    resolve_secrets(baseline.config, ctx.secrets),
                    strategy,
                    ctx.extra,
                    running=running,
                    secrets=ctx.secrets,
                )
            if want_compliance:
                assert baseline.expectations is not None  # noqa: S101 - checked above
                report = device.compliance(baseline.expectations, f"{host.name}{EXPECT_SUFFIX}")
    except ConnectError as exc:
        return _result(
            host,
            HostState.UNREACHABLE,
            baseline,
            checked_utc=when,
            message=_message(exc, ctx),
            duration_s=time.monotonic() - started,
        )
    except NetImmutableError as exc:
        return _result(
            host,
            HostState.ERROR,
            baseline,
            checked_utc=when,
            message=_message(exc, ctx),
            duration_s=time.monotonic() - started,
        )
    return DeviceReading(when, time.monotonic() - started, running, seen, report, problem)


def _judge(host: Host, baseline: Baseline, ctx: _Context, reading: DeviceReading) -> VerifiedHost:
    """The verdict of ``_check`` from what the device steps found (no device access)."""
    started = time.monotonic() - reading.elapsed_s
    when, running, seen, report, problem = (
        reading.checked_utc,
        reading.running,
        reading.seen,
        reading.report,
        reading.problem,
    )
    assert baseline.config is not None  # noqa: S101 - hosts without a baseline never reach a device
    platform = str(host.platform)
    if seen is not None and (seen.decided_by == "device" or running is None):
        return _device_decided(host, baseline, ctx, seen, running, report, problem, when, started)
    assert running is not None  # noqa: S101 - text decided: it was read
    known = known_digest(ctx.digests, ctx.secrets, baseline.config, running, platform, ctx.extra)
    if known is not None:  # the artifact byte for byte, normalized in an earlier run: nothing to diff
        expected_n = running_n = ""
        expected_digest = running_digest = known
    else:
        expected_n = normalize(baseline.config, platform, ctx.extra, ctx.secrets)
        # normalize is a function of its text: a device running the artifact byte for byte needs no 2nd pass
        running_n = (
            expected_n if running == baseline.config else normalize(running, platform, ctx.extra, ctx.secrets)
        )
        expected_digest = config_digest(expected_n)
        running_digest = expected_digest if running_n is expected_n else config_digest(running_n)
    expectations, failed = _expectation_verdict(ctx, baseline, report, problem)
    if ctx.secrets:  # the reported digests are of the masked texts (no secret value is ever hashed out)
        shown_expected = config_digest(mask(expected_n, ctx.secrets, unknown=False))
        shown_running = (
            shown_expected
            if running_n is expected_n
            else config_digest(mask(running_n, ctx.secrets, unknown=False))
        )
    else:  # mask without secrets and unknown=False returns its text unchanged
        shown_expected, shown_running = expected_digest, running_digest
    digests = {"expected_digest": shown_expected, "running_digest": shown_running}
    features = ctx.compliance.features_for(platform)
    common: dict[str, Any] = {
        "checked_utc": when,
        "expectations": expectations,
        "failed_expectations": failed,
        "compared_by": "text",
        "features": (
            all_compliant(features)
            if expected_digest == running_digest
            else check_features(
                features, expected_n, running_n, parser_for(platform, ctx.compliance), ctx.secrets
            )
        ),
        **digests,
    }
    diff = ""
    if expected_digest != running_digest:
        diff = diff_normalized(
            expected_n,
            running_n,
            f"{_label(baseline)}:{ctx.snapshots_dir}/{host.name}{CONFIG_SUFFIX}",
            f"{host.name}:running",
            ctx.secrets,
        )
    return _verdict(host, baseline, common, failed, started, diff, "the running config differs")


def _label(baseline: Baseline) -> str:
    return baseline.release[:10] if baseline.release else "baseline"


def _verdict(
    host: Host,
    baseline: Baseline,
    common: Mapping[str, Any],
    failed: tuple[str, ...],
    started: float,
    diff: str,
    drift: str,
    how: str = "",
) -> VerifiedHost:
    """Drift when ``diff`` (``drift``: what differs, ``how``: said after the count), else expectations
    failed when ``failed``, else in sync."""
    if diff:
        changed = sum(1 for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---"))
        return _result(
            host,
            HostState.DRIFT,
            baseline,
            diff=diff,
            message=f"{drift} from release {_label(baseline)} ({changed} line(s) changed{how})",
            duration_s=time.monotonic() - started,
            **common,
        )
    if failed:
        return _result(
            host,
            HostState.EXPECTATIONS_FAILED,
            baseline,
            message=f"{len(failed)} expectation(s) failed",
            duration_s=time.monotonic() - started,
            **common,
        )
    return _result(host, HostState.IN_SYNC, baseline, duration_s=time.monotonic() - started, **common)


def _running_or_none(device: Device, strategy: Strategy) -> str | None:
    """The running config; None when the driver cannot read it and the strategy can ask the device."""
    try:
        return device.running_config()
    except Unsupported:
        if strategy is Strategy.TEXT:
            raise
        return None


def _expectation_verdict(
    ctx: _Context, baseline: Baseline, report: Mapping[str, Any] | None, problem: str | None
) -> tuple[str, tuple[str, ...]]:
    failed: tuple[str, ...] = ()
    if problem is not None:
        failed = (problem,)
    elif report is not None:
        failed = tuple(mask(f, ctx.secrets) for f in compliance_failures(report))
    if not ctx.expectations:
        return "not-run", failed
    if baseline.expectations is None:
        return "none-defined", failed
    return ("failed" if failed else "passed"), failed


def _device_decided(
    host: Host,
    baseline: Baseline,
    ctx: _Context,
    seen: Comparison,
    running: str | None,
    report: Mapping[str, Any] | None,
    problem: str | None,
    when: str,
    started: float,
) -> VerifiedHost:
    """A host whose verdict the device's own compare gave (``device`` strategy, or ``text-first`` when the
    texts differed): in sync exactly when the device sees nothing to change."""
    assert baseline.config is not None  # noqa: S101
    platform = str(host.platform)
    expectations, failed = _expectation_verdict(ctx, baseline, report, problem)
    expected_n = normalize(baseline.config, platform, ctx.extra, ctx.secrets)
    shown_expected = config_digest(mask(expected_n, ctx.secrets, unknown=False))
    shown_running = None
    if running is not None:
        running_n = normalize(running, platform, ctx.extra, ctx.secrets)
        shown_running = config_digest(mask(running_n, ctx.secrets, unknown=False))
    common: dict[str, Any] = {
        "checked_utc": when,
        "expectations": expectations,
        "failed_expectations": failed,
        "compared_by": seen.decided_by,
        "expected_digest": shown_expected,
        "running_digest": shown_running,
    }
    if seen.equal:
        common["features"] = all_compliant(ctx.compliance.features_for(platform))
    diff = mask(seen.diff, ctx.secrets)
    if diff and not diff.endswith("\n"):
        diff += "\n"
    return _verdict(
        host, baseline, common, failed, started, diff, "the device reports differences", ", its own compare"
    )


def _outcome(host: Host, multi: MultiResult | None, baseline: Baseline) -> VerifiedHost:
    """The one place where a Nornir result becomes a typed host result."""
    if multi is None or len(multi) == 0:
        return _result(host, HostState.ERROR, baseline, message="no result was produced for this host")
    first = multi[0]
    if isinstance(first.result, VerifiedHost) and not first.failed:
        return first.result
    exc = first.exception
    detail = f"{type(exc).__name__}: {exc}" if exc is not None else str(first.result)
    return _result(host, HostState.ERROR, baseline, message=f"internal error while verifying: {detail}")


class _Progress:
    """A Nornir processor that reports each finished host (from worker threads)."""

    def __init__(self, baselines: Mapping[str, Baseline], callback: Callable[[VerifiedHost], None]) -> None:
        self._baselines = baselines
        self._callback = callback

    def task_started(self, task: Task) -> None:
        pass

    def task_completed(self, task: Task, result: AggregatedResult) -> None:
        pass

    def task_instance_started(self, task: Task, host: Host) -> None:
        pass

    def task_instance_completed(self, task: Task, host: Host, result: MultiResult) -> None:
        self._callback(_outcome(host, result, self._baselines[host.name]))

    def subtask_instance_started(self, task: Task, host: Host) -> None:
        pass

    def subtask_instance_completed(self, task: Task, host: Host, result: MultiResult) -> None:
        pass


def _verify_task(task: Task, baselines: Mapping[str, Baseline], ctx: _Context) -> Result:
    return Result(host=task.host, result=_check(task.host, baselines[task.host.name], ctx))


def _resolve_secrets(
    repo: NetworkRepo, baselines: dict[str, Baseline]
) -> tuple[dict[str, str], dict[str, Baseline]]:
    """Values of every secret the baselines reference; a host whose secret has no value becomes an error."""
    needed = {name: secret_names([b.config]) for name, b in baselines.items() if b.config is not None}
    if not any(needed.values()):
        return {}, baselines
    provider = Secrets(repo)
    updated = dict(baselines)
    for host, names in needed.items():
        for secret in sorted(names):
            try:
                provider.value(secret)
            except NetImmutableError as exc:
                updated[host] = Baseline(
                    host,
                    baselines[host].release,
                    baselines[host].source,
                    problem=f"cannot compare: {exc.message}",
                    problem_state=HostState.ERROR,
                )
                break
    return dict(provider.resolved), updated


def run_verify(
    repo: NetworkRepo,
    loaded: LoadedInventory,
    hosts: Sequence[Host],
    options: VerifyOptions,
    progress: Callable[[VerifiedHost], None] | None = None,
) -> VerifyReport:
    """Verify ``hosts`` (see the module docstring). Device problems are results, never exceptions.

    With ``options.cluster``, the scheduler is reached first (``ClusterError`` before anything is read)
    and each host's device steps run on its workers (``netimmutable.verify_cluster``)."""
    if options.cluster is None:
        return _run_verify(repo, loaded, hosts, options, progress, None)
    with Cluster.connect(options.cluster) as cluster:
        return _run_verify(repo, loaded, hosts, options, progress, cluster)


def _run_verify(
    repo: NetworkRepo,
    loaded: LoadedInventory,
    hosts: Sequence[Host],
    options: VerifyOptions,
    progress: Callable[[VerifiedHost], None] | None,
    cluster: Cluster | None,
) -> VerifyReport:
    started_utc, started = utc_now(), time.monotonic()
    run_id = new_run_id()
    with open_git(repo) as gitrepo:  # closing it stops git's cat-file helper processes
        against_release, baselines = load_baselines(repo, gitrepo, [h.name for h in hosts], options.against)
    for name, why in hosts_in_flight(repo).items():
        if name in baselines:  # what it runs now belongs to that run: not compared, never drift
            held = baselines[name]
            baselines[name] = Baseline(
                name, held.release, held.source, problem=why, problem_state=HostState.IN_FLIGHT
            )
    values, baselines = _resolve_secrets(repo, baselines)
    ctx = _Context(
        tuple(repo.settings.ignore_lines),
        values,
        options.expectations,
        repo.settings.snapshots_dir,
        repo.settings.compliance,
        repo.settings.compare_overrides(),
        ArtifactDigests.load(repo.local_dir),
    )
    results: dict[str, VerifiedHost] = {}
    reachable: list[Host] = []
    for host in hosts:
        baseline = baselines[host.name]
        if baseline.config is None:
            results[host.name] = _result(host, baseline.problem_state, baseline, message=baseline.problem)
            if progress is not None:
                progress(results[host.name])
        else:
            reachable.append(host)
    if reachable and cluster is not None:
        from netimmutable.verify_cluster import verify_on_cluster

        prepare_hosts(repo, reachable)
        for result in verify_on_cluster(cluster, reachable, baselines, ctx, progress):
            results[result.host] = result
        remember_digests(repo, ctx.digests, ctx.secrets, ctx.extra, results.values(), baselines)
    elif reachable:
        prepare_hosts(repo, reachable)
        processes = options.processes or auto_processes(len(reachable))
        workers = max(1, -(-options.workers // processes))  # the same concurrency in all

        def work(chunk: Sequence[Host], emit: Callable[[VerifiedHost], None]) -> list[VerifiedHost]:
            nornir = make_nornir(chunk, loaded, workers)
            if progress is not None:
                nornir = nornir.with_processors([_Progress(baselines, emit)])
            aggregated = nornir.run(task=_verify_task, baselines=baselines, ctx=ctx)
            return [_outcome(h, aggregated.get(h.name), baselines[h.name]) for h in chunk]

        # checking a config is CPU work under one GIL: large fleets are spread over the cores
        for result in fan_out(reachable, processes, work, progress):
            results[result.host] = result
        remember_digests(repo, ctx.digests, ctx.secrets, ctx.extra, results.values(), baselines)
    return VerifyReport(
        run_id=run_id,
        started_utc=started_utc,
        finished_utc=utc_now(),
        tool_version=__version__,
        against=options.against,
        against_release=against_release,
        expectations=options.expectations,
        policy=options.policy,
        hosts=tuple(results[h.name] for h in hosts),
        duration_s=time.monotonic() - started,
    )


def read_running(repo: NetworkRepo, host: Host, *, normalized: bool = False) -> str:
    """The host's running config for people (``show-running``): secrets masked, optionally normalized.

    Values of secrets its last-good artifact references are shown as their placeholders (when they can be
    resolved); any other value after a secret keyword is masked.
    """
    with open_git(repo) as gitrepo:
        _, baselines = load_baselines(repo, gitrepo, [host.name], None)
    values, _ = _resolve_secrets(repo, baselines)
    prepare_hosts(repo, [host])
    with Device.open(host) as device:
        running = device.running_config()
    if normalized:
        running = normalize(running, str(host.platform), repo.settings.ignore_lines)
    return mask(running, values)
