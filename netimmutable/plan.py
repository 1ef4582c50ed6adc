"""``plan``: each device's own diff of a release against its running config (load, compare, ALWAYS discard).

Nothing is committed: the candidate is discarded in ``finally`` whatever happens. Per host the outcome is
``changed``, ``unchanged``, ``unreachable`` or ``error``, with the device's diff (secrets masked). A plan can
be saved: it pins the release and, per host, a digest of the normalized running config and of the device
diff, so ``deploy --plan FILE`` refuses any host that changed after the plan was reviewed
(``check_against_plan`` / ``plan_checker``).

Examples:
    >>> plan_digests("hostname r1\\n!\\n", "+ip route 10.0.0.0/8 blackhole\\n", "frr")[0][:7]
    'sha256:'
    >>> Plan("a" * 40, "s", "2024-01-01T00:00:00Z", "me", ()).exit_code
    <ExitCode.OK: 0>
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from nornir.core.inventory import Host
from nornir.core.task import AggregatedResult, Result, Task

from netimmutable.cluster import Cluster
from netimmutable.errors import (
    ApprovalError,
    ConnectError,
    DeviceError,
    InputError,
    NetImmutableError,
    Unsupported,
)
from netimmutable.exitcodes import ExitCode
from netimmutable.fileio import atomic_write_text
from netimmutable.inventory import LoadedInventory, make_nornir
from netimmutable.normalize import config_digest, mask, normalize
from netimmutable.push import PlanPin
from netimmutable.render import CONFIG_SUFFIX, EXPECT_SUFFIX
from netimmutable.secretforms import align

__all__ = [
    "PLAN_SCHEMA",
    "HostPlan",
    "Plan",
    "PlanDevice",
    "PlanMismatch",
    "PlanStatus",
    "check_against_plan",
    "deploy_pins",
    "deploy_plan",
    "format_plan",
    "load_plan",
    "make_plan",
    "plan_checker",
    "plan_digests",
    "release_matches",
    "save_plan",
]

PLAN_SCHEMA = "netimmutable.plan/1"


class PlanStatus(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    UNREACHABLE = "unreachable"
    ERROR = "error"


class PlanMismatch(ApprovalError):
    """The device (or the release) is not what the reviewed plan saw."""


class PlanDevice(Protocol):
    """The part of ``netimmutable.device.Device`` planning uses."""

    platform: str

    def running_config(self) -> str: ...
    def preflight(self, running: str | None = None) -> None: ...
    def load_replace(self, config: str) -> None: ...
    def compare(self) -> str: ...
    def discard(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class HostPlan:
    host: str
    status: PlanStatus
    diff: str = ""
    """The device's own diff of the candidate (secrets masked)."""
    message: str = ""
    running_digest: str | None = None
    diff_digest: str | None = None
    platform: str = ""
    worker: str = ""
    """The Dask worker that planned the host (``--cluster``); "" in process (and then not in the JSON)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "platform": self.platform,
            "host": self.host,
            "status": str(self.status),
            "diff": self.diff,
            "message": self.message,
            "running_digest": self.running_digest,
            "diff_digest": self.diff_digest,
        }
        if self.worker:
            out["worker"] = self.worker
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    release: str
    release_summary: str
    created_utc: str
    operator: str
    hosts: tuple[HostPlan, ...]
    ignore_lines: tuple[str, ...] = ()
    """The extra normalization patterns the digests were made with (deploy uses the same)."""
    snapshots_tree: str = ""
    """The git tree of the release's snapshots ("" in plans saved before it was kept)."""
    artifacts: tuple[tuple[str, str], ...] = ()
    """(artifact file name, blob sha) of the release: ``deploy --plan`` accepts the plan for another commit
    with the same artifacts (the merge or squash commit of the merge request the plan was made on)."""

    @property
    def exit_code(self) -> ExitCode:
        """1 when any host is unreachable or failed, else 3 when any changes, else 0."""
        statuses = {h.status for h in self.hosts}
        if statuses & {PlanStatus.UNREACHABLE, PlanStatus.ERROR}:
            return ExitCode.ERROR
        return ExitCode.CHANGES if PlanStatus.CHANGED in statuses else ExitCode.OK

    def host(self, name: str) -> HostPlan | None:
        return next((h for h in self.hosts if h.host == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": PLAN_SCHEMA,
            "release": self.release,
            "release_summary": self.release_summary,
            "created_utc": self.created_utc,
            "operator": self.operator,
            "ignore_lines": list(self.ignore_lines),
            "hosts": [h.to_json() for h in self.hosts],
            "snapshots_tree": self.snapshots_tree,
            "artifacts": dict(self.artifacts),
        }


# ------------------------------------------------------------------------------------------- digests
def _diff_text(diff: str) -> str:
    return "\n".join(line.rstrip() for line in diff.replace("\r\n", "\n").splitlines() if line.strip())


def plan_digests(
    running: str | None, device_diff: str, platform: str, extra: Sequence[str] = ()
) -> tuple[str | None, str]:
    """(running digest, device diff digest) as a plan stores them: normalized, masked, hashed. A driver
    without ``get_config`` (``running`` None) has no running digest: its plan pins the device's diff only.

    Values after secret keywords (password, secret, ...) are masked before hashing, so a digest cannot be
    used to guess a weak secret, and it does not depend on which secrets a run happened to resolve.
    ``deploy`` computes them the same way from what it sees at push time.
    """
    running_digest = None if running is None else config_digest(mask(normalize(running, platform, extra)))
    diff_digest = "sha256:" + hashlib.sha256(mask(_diff_text(device_diff)).encode()).hexdigest()
    return running_digest, diff_digest


def check_against_plan(
    plan: Plan,
    release: str,
    host: str,
    running: str | None,
    device_diff: str,
    platform: str,
    extra: Sequence[str] = (),
) -> None:
    """Raise ``PlanMismatch`` unless ``host`` still looks exactly as when ``plan`` was made."""
    why = plan_checker(plan, release, host, platform, extra)(running, device_diff)
    if why is not None:
        raise PlanMismatch(why, host=host, hint="make a new plan, review it, and deploy with it")


def _same_sha(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def plan_checker(
    plan: Plan,
    release: str,
    host: str,
    platform: str,
    extra: Sequence[str] = (),
    *,
    same_artifacts: bool = False,
) -> Callable[[str | None, str], str | None]:
    """A ``(running config, device diff) -> reason or None`` check for one host (``push.PlanPin.check``).
    ``same_artifacts``: ``release`` is another commit with the plan's artifacts (``release_matches``)."""
    planned = plan.host(host)

    def check(running: str | None, device_diff: str) -> str | None:
        if not same_artifacts and not _same_sha(release, plan.release):
            return f"the plan is for release {plan.release[:10]}, not {release[:10]}"
        if planned is None:
            return "the host is not in the plan"
        if planned.status not in (PlanStatus.CHANGED, PlanStatus.UNCHANGED):
            return f"the plan could not see the host ({planned.status}: {planned.message})"
        running_digest, diff_digest = plan_digests(running, device_diff, platform, extra)
        if running_digest != planned.running_digest:
            return "its running config changed since the plan was made"
        if diff_digest != planned.diff_digest:
            return "the device's diff of the release differs from the plan's"
        return None

    return check


# ------------------------------------------------------------------------------------------ planning
@dataclass(frozen=True, slots=True)
class _Job:
    artifact: str | None
    resolve: Callable[[str], str]
    secrets: Mapping[str, str] = field(repr=False)  # Nornir logs task arguments (INFO): never the values
    extra: tuple[str, ...]
    open_device: Callable[[Host], PlanDevice]


def _status_of(exc: NetImmutableError) -> PlanStatus:
    return PlanStatus.UNREACHABLE if isinstance(exc, ConnectError) else PlanStatus.ERROR


def _inspect(device: PlanDevice, name: str, artifact: str, job: _Job) -> HostPlan:
    notes: list[str] = []
    pins_diff_only = ""
    try:
        running: str | None = device.running_config()
    except Unsupported:
        running = None
        pins_diff_only = " (the driver cannot read the running config: the plan pins the device's diff only)"
    device.preflight(running)  # what the deploy would refuse the host for, said at plan time
    try:
        candidate = job.resolve(artifact)  # with the device's own encodings of secrets in a form (new salts
        # are no change: ``deploy`` loads the same way, so the plan's diff digest still matches)
        device.load_replace(candidate if running is None else align(candidate, running, job.secrets))
        diff = device.compare()
    finally:
        try:
            device.discard()
        except DeviceError as exc:
            notes.append(f"discarding the candidate failed: {mask(exc.message, job.secrets)}")
    running_digest, diff_digest = plan_digests(running, diff, device.platform, job.extra)
    status = PlanStatus.CHANGED if diff.strip() else PlanStatus.UNCHANGED
    message = "; ".join(notes) or ("the device would change" if diff.strip() else "nothing to change")
    message += pins_diff_only
    return HostPlan(
        name, status, mask(diff, job.secrets), message, running_digest, diff_digest, device.platform
    )


def _plan_one(host: Host, job: _Job) -> HostPlan:
    name = host.name
    if job.artifact is None:
        return HostPlan(name, PlanStatus.ERROR, message="the release has no artifact for this host")
    try:
        device = job.open_device(host)
    except NetImmutableError as exc:
        return HostPlan(name, _status_of(exc), message=exc.message)
    try:
        return _inspect(device, name, job.artifact, job)
    except NetImmutableError as exc:  # ConfigRejected carries the device's text verbatim
        return HostPlan(name, _status_of(exc), message=mask(exc.message, job.secrets))
    finally:
        device.close()


def _plan_task(task: Task, jobs: Mapping[str, _Job]) -> Result:
    return Result(host=task.host, result=_plan_one(task.host, jobs[task.host.name]))


def _outcomes(names: Sequence[str], results: AggregatedResult) -> tuple[HostPlan, ...]:
    """The one place Nornir results become typed per-host outcomes."""
    out: list[HostPlan] = []
    for name in names:
        multi = results.get(name)
        value = multi[0].result if multi else None
        if isinstance(value, HostPlan):
            out.append(value)
            continue
        exc = multi[0].exception if multi else None
        text = f"{type(exc).__name__}: {exc}" if exc is not None else "no result"
        out.append(HostPlan(name, PlanStatus.ERROR, message=f"planning failed: {text}"))
    return tuple(out)


def make_plan(
    release: str,
    release_summary: str,
    artifacts: Mapping[str, str | None],
    hosts: Sequence[Host],
    loaded: LoadedInventory,
    *,
    workers: int,
    resolve: Callable[[str], str],
    secrets: Mapping[str, str],
    extra: Sequence[str] = (),
    open_device: Callable[[Host], PlanDevice] | None = None,
    operator: str = "",
    created_utc: str = "",
    cluster: Cluster | None = None,
) -> Plan:
    """Plan ``hosts`` in parallel. ``artifacts``: host -> config text of the release (placeholders);
    ``resolve`` turns placeholders into values (only ever sent to the device); ``secrets`` (name -> value)
    masks them again in everything returned. Hosts must be prepared (``connections.prepare_hosts``).
    ``cluster``: each host is planned on a worker of that Dask cluster (``netimmutable.plan_cluster``)."""
    if open_device is None:
        from netimmutable.device import Device

        open_device = Device.open
    jobs = {h.name: _Job(artifacts.get(h.name), resolve, secrets, tuple(extra), open_device) for h in hosts}
    names = [h.name for h in hosts]
    if not names:
        return Plan(release, release_summary, created_utc, operator, (), tuple(extra))
    if cluster is not None:
        from netimmutable.plan_cluster import plan_on_cluster

        planned = plan_on_cluster(cluster, hosts, jobs)
        return Plan(release, release_summary, created_utc, operator, planned, tuple(extra))
    nr = make_nornir(hosts, loaded, workers)
    results = nr.run(task=_plan_task, jobs=jobs, name="plan")
    return Plan(release, release_summary, created_utc, operator, _outcomes(names, results), tuple(extra))


# ------------------------------------------------------------------------------------ save and load
def save_plan(plan: Plan, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n")


def load_plan(path: Path) -> Plan:
    """Read a plan saved by ``plan --save``; refuses anything else with the file named."""
    label = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the plan: {exc.strerror}", file=label) from None
    except ValueError as exc:
        raise InputError(f"the plan is not valid JSON: {exc}", file=label) from None
    if not isinstance(data, dict) or data.get("schema") != PLAN_SCHEMA:
        raise InputError(f"not a netimmutable plan (expected schema {PLAN_SCHEMA})", file=label)
    try:
        hosts = tuple(
            HostPlan(
                host=str(h["host"]),
                status=PlanStatus(h["status"]),
                diff=str(h.get("diff") or ""),
                message=str(h.get("message") or ""),
                running_digest=h.get("running_digest"),
                diff_digest=h.get("diff_digest"),
                platform=str(h.get("platform") or ""),
                worker=str(h.get("worker") or ""),
            )
            for h in data["hosts"]
        )
        return Plan(
            release=str(data["release"]),
            release_summary=str(data.get("release_summary") or ""),
            created_utc=str(data.get("created_utc") or ""),
            operator=str(data.get("operator") or ""),
            hosts=hosts,
            ignore_lines=tuple(str(p) for p in data.get("ignore_lines") or ()),
            snapshots_tree=str(data.get("snapshots_tree") or ""),
            artifacts=tuple(sorted((str(k), str(v)) for k, v in dict(data.get("artifacts") or {}).items())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the plan is damaged: {type(exc).__name__}: {exc}", file=label) from None


def _differing(plan: Plan, artifacts: Mapping[str, str], hosts: Sequence[str]) -> list[str]:
    """The ``hosts`` whose artifacts (config, expectations) differ between the plan's release and
    ``artifacts`` (file name -> blob sha of the release deployed)."""
    planned = dict(plan.artifacts)
    return [
        name
        for name in hosts
        if any(
            planned.get(f"{name}{suffix}") != artifacts.get(f"{name}{suffix}")
            for suffix in (CONFIG_SUFFIX, EXPECT_SUFFIX)
        )
    ]


def release_matches(
    plan: Plan,
    release: str,
    hosts: Sequence[str],
    snapshots: tuple[str, Mapping[str, str]] | None,
    label: str = "the plan",
) -> str:
    """Whether ``plan`` may be deployed as ``release`` for ``hosts``: the same commit, or another commit
    whose artifacts are the same (``snapshots``: its snapshots tree and artifact blob shas), as when a
    merge request's plan is deployed from its merge or squash commit. Returns a note naming the commit the
    plan was made on ("" for the same commit); raises ``PlanMismatch`` naming the hosts that differ."""
    if _same_sha(release, plan.release):
        return ""
    hint = "plan the release you deploy: `netimmutable plan REV --save FILE`"
    if snapshots is None or not plan.artifacts:
        raise PlanMismatch(
            f"the plan is for release {plan.release[:10]}, not {release[:10]}", file=label, hint=hint
        )
    tree, artifacts = snapshots
    differ = _differing(plan, artifacts, hosts)
    if differ:
        raise PlanMismatch(
            f"the plan was made on commit {plan.release[:10]}, whose artifacts differ from release "
            f"{release[:10]} for: {', '.join(differ)}",
            file=label,
            hint=hint,
        )
    same = (
        "the same snapshots" if tree and tree == plan.snapshots_tree else "the same artifacts for these hosts"
    )
    return f"the plan was made on commit {plan.release[:10]}, with {same} as release {release[:10]}"


def deploy_plan(
    plan_file: str | Path,
    release: str,
    hosts: Sequence[str],
    snapshots: tuple[str, Mapping[str, str]] | None = None,
) -> tuple[dict[str, PlanPin], str]:
    """``deploy_pins``, and a note when the plan was made on another commit with the same artifacts
    (``release_matches``)."""
    plan = load_plan(Path(plan_file))
    note = release_matches(plan, release, hosts, snapshots, str(plan_file))
    pins: dict[str, PlanPin] = {}
    for name in hosts:
        planned = plan.host(name)
        platform = planned.platform if planned is not None else ""
        check = plan_checker(plan, release, name, platform, plan.ignore_lines, same_artifacts=bool(note))
        pins[name] = PlanPin(
            running_digest=planned.running_digest or "" if planned else "",
            diff_digest=planned.diff_digest or "" if planned else "",
            check=check,
        )
    return pins, note


def deploy_pins(
    plan_file: str | Path,
    release: str,
    hosts: Sequence[str],
    snapshots: tuple[str, Mapping[str, str]] | None = None,
) -> dict[str, PlanPin]:
    """``deploy --plan FILE``: per host, what the reviewed plan saw. A plan of a release with other artifacts
    is refused outright; a host the plan did not see (or could not reach) gets a pin that always refuses
    it."""
    return deploy_plan(plan_file, release, hosts, snapshots)[0]


# ---------------------------------------------------------------------------------------- formatting
def _on_worker(h: HostPlan, form: str) -> str:
    return form.format(h.worker.replace("|", "/")) if h.worker else ""


def format_plan(plan: Plan, fmt: str) -> str:
    """``text``, ``markdown`` or ``json``."""
    if fmt == "json":
        return json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n"
    counts = {s: sum(1 for h in plan.hosts if h.status == s) for s in PlanStatus}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no hosts"
    if fmt == "markdown":
        out = [
            f"### netimmutable plan for `{plan.release[:10]}`: {summary}\n\n",
            "| host | plan | note |\n|---|---|---|\n",
        ]
        out += [
            f"| `{h.host}` | {h.status} | {h.message.replace('|', '/')}{_on_worker(h, ' (worker {})')} |\n"
            for h in plan.hosts
        ]
        for h in plan.hosts:
            if h.diff:
                fence = "````" if "```" in h.diff else "```"
                out.append(
                    f"\n<details><summary><code>{h.host}</code>: device diff</summary>\n\n"
                    f"{fence}diff\n{h.diff.rstrip()}\n{fence}\n\n</details>\n"
                )
        return "".join(out)
    out = [f"plan for release {plan.release[:10]} ({plan.release_summary}): {summary}\n\n"]
    out += [
        f"{h.host:<24} {h.status!s:<12} {h.message}{_on_worker(h, '  [worker {}]')}\n" for h in plan.hosts
    ]
    for h in plan.hosts:
        if h.diff:
            out.append(f"\n=== {h.host}: device diff\n{h.diff.rstrip()}\n")
    return "".join(out)
