"""Before a change window touches anything: the gate (approved, a release by content, plan)
and one ``HostJob`` per host (its release, its last-good target, its revert timer, its expectations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import git
from nornir.core.inventory import Host

from netimmutable.approval import check_approved
from netimmutable.artifacts import Release, read_artifacts, resolve_release, snapshot_ids
from netimmutable.compare import strategy_for
from netimmutable.connections import driver_name, prepare_hosts
from netimmutable.deploy_model import DeployOptions, HostJob, PlanPin
from netimmutable.drivers.capabilities import capability, revert_in_for
from netimmutable.errors import ApprovalError, InputError, NetImmutableError
from netimmutable.records import Records
from netimmutable.release_content import require_content
from netimmutable.render import CONFIG_SUFFIX, EXPECT_SUFFIX
from netimmutable.repo import NetworkRepo
from netimmutable.soak import SOAK_MARGIN, SoakSetting, revert_timer_problem
from netimmutable.trust import GoodTrust

__all__ = ["Gate", "Prepared", "deploy_refusals", "expectations_required", "gate", "prepare"]


@dataclass(frozen=True, slots=True)
class Gate:
    release: Release
    artifacts: Mapping[str, str]
    notes: tuple[str, ...]


def gate(repo: NetworkRepo, gitrepo: git.Repo, options: DeployOptions) -> Gate:
    """Only approved releases (reachable from the approval branch, clean tree) that are releases by content:
    their snapshots are what their own inputs render (``release_content``). The default revision is HEAD,
    as for ``plan``."""
    release = check_approved(repo, gitrepo, options.rev or "HEAD", allow_dirty=options.allow_dirty)
    artifacts = read_artifacts(gitrepo, release.sha, repo.settings.snapshots_dir)
    notes: list[str] = []
    if not artifacts:
        raise ApprovalError(f"release {release.short} has no artifacts in {repo.settings.snapshots_dir}/")
    note = require_content(repo, gitrepo, release.sha, allow_stale=options.allow_stale)
    if note:
        notes.append(note)
    return Gate(release=release, artifacts=artifacts, notes=tuple(notes))


def deploy_refusals(repo: NetworkRepo, gitrepo: git.Repo, rev: str) -> tuple[str, ...]:
    """Why ``deploy REV`` would refuse before touching any device (``plan`` warns with these): not approved
    (or a dirty working tree), not a release by content. Empty when the gate would pass."""
    out: list[str] = []
    try:
        release = check_approved(repo, gitrepo, rev)
    except NetImmutableError as exc:
        out.append(exc.message)
        release = resolve_release(gitrepo, rev)
    try:
        require_content(repo, gitrepo, release.sha, allow_stale=False)
    except NetImmutableError as exc:
        out.append(exc.message)
    return tuple(out)


def _in_release(gitrepo: git.Repo, sha: str, path: str) -> bool:
    try:
        gitrepo.commit(sha).tree / path
    except KeyError:
        return False
    return True


def expectations_required(repo: NetworkRepo, gitrepo: git.Repo, sha: str, host: Host) -> bool:
    """Whether the release configures expectations for ``host`` (then a missing/empty file fails);
    ``expect_template: false``: none."""
    if host.get("expect_template") is False:
        return False
    if host.get("expect_template"):
        return True
    return _in_release(gitrepo, sha, f"{repo.settings.templates_dir}/{host.platform}/expect.j2")


def _plan_pins(
    repo: NetworkRepo, gitrepo: git.Repo, plan_file: str | None, release: str, hosts: Sequence[str]
) -> tuple[dict[str, PlanPin], str]:
    """Per host, what a saved plan saw (``--plan FILE``); the pipeline refuses hosts that changed since.
    A plan made on another commit with the same artifacts (a merge request's) is accepted, with a note."""
    if plan_file is None:
        return {}, ""
    from netimmutable.plan import deploy_plan

    snapshots = snapshot_ids(gitrepo, release, repo.settings.snapshots_dir) if release else None
    return deploy_plan(plan_file, release, hosts, snapshots)


def _good_artifacts(records: Records, releases: Mapping[str, str]) -> dict[str, str | None]:
    """Every host's last-good artifact and expectations (file name -> text), one batch per release."""
    by_release: dict[str, list[str]] = {}
    for host, release in releases.items():
        by_release.setdefault(release, []).extend((f"{host}{CONFIG_SUFFIX}", f"{host}{EXPECT_SUFFIX}"))
    files: dict[str, str | None] = {}
    for release, names in by_release.items():
        files.update(records.artifacts_many(release, names))
    return files


@dataclass(frozen=True, slots=True)
class Prepared:
    hosts: dict[str, Host]
    jobs: dict[str, HostJob]
    no_timer: tuple[str, ...]
    settle_timeout: float
    settle_interval: float
    workers: int
    soak: SoakSetting = 0.0
    unknown_drivers: tuple[str, ...] = ()
    """``host (driver)`` for hosts whose driver is not in the capability table: conservative defaults."""
    notes: tuple[str, ...] = ()
    """What the window should say before it starts (a plan made on another commit with the same artifacts)."""


def prepare(
    repo: NetworkRepo,
    gitrepo: git.Repo,
    records: Records,
    selected: Sequence[Host],
    releases: Mapping[str, str],
    artifacts: Mapping[str, Mapping[str, str]],
    options: DeployOptions,
    *,
    purpose: str = "deploy",
) -> Prepared:
    """One ``HostJob`` per host: its release's artifacts, its last-good target, its revert timer."""
    policy = repo.settings.deploy
    timer = policy.revert_in if options.revert_in is None else options.revert_in
    settle_timeout = policy.settle_timeout if options.settle_timeout is None else options.settle_timeout
    soak = policy.soak if options.soak is None else options.soak
    hosts = {h.name: h for h in selected}
    prepare_hosts(repo, list(hosts.values()))
    pins, plan_note = _plan_pins(
        repo, gitrepo, options.plan_file, next(iter(releases.values()), ""), list(hosts)
    )
    jobs: dict[str, HostJob] = {}
    no_timer: list[str] = []
    unknown: list[str] = []
    goods = records.last_good_many(list(hosts)) if purpose != "rollback" else {}
    trust = GoodTrust(repo, gitrepo, records)
    for name, good in goods.items():  # the drift baseline and the rollback target of each host
        if good is not None:
            trust.require(good, f"{purpose} {name}")
    good_files = _good_artifacts(records, {n: g.release for n, g in goods.items() if g is not None})
    for name, host in hosts.items():
        release = releases[name]
        files = artifacts[release]
        artifact = files.get(f"{name}{CONFIG_SUFFIX}")
        if artifact is None:
            raise InputError(f"release {release[:10]} has no artifact for host {name}", host=name)
        try:
            revert = revert_in_for(driver_name(host), timer) if timer else None
        except ValueError as exc:
            raise InputError(str(exc), host=name) from None
        if revert is None:
            no_timer.append(name)
        if not capability(driver_name(host)).known:
            unknown.append(f"{name} ({driver_name(host)})")
        # `auto` depends on the device's hold times (checked again at its pre-check), but is never below
        # the margin a host without BGP gets: a timer shorter than that can never hold
        least = SOAK_MARGIN if soak == "auto" else soak
        problem = revert_timer_problem(revert, settle_timeout=settle_timeout, soak=least)
        if problem:
            raise InputError(problem, host=name)
        good = goods.get(name)
        last_good_artifact = last_good_expect = None
        if good is not None:
            last_good_artifact = good_files.get(f"{name}{CONFIG_SUFFIX}")
            last_good_expect = good_files.get(f"{name}{EXPECT_SUFFIX}")
        elif purpose != "rollback":
            last_good_artifact = records.captured_config(name)
        jobs[name] = HostJob(
            host=name,
            platform=str(host.platform),
            release=release,
            artifact=artifact,
            expectations=files.get(f"{name}{EXPECT_SUFFIX}"),
            expectations_required=expectations_required(repo, gitrepo, release, host),
            last_good_release=good.release if good is not None else None,
            last_good_artifact=last_good_artifact,
            last_good_expectations=last_good_expect,
            revert_in=revert,
            force_drift=options.force_drift or purpose == "rollback",
            plan=pins.get(name),
            purpose=purpose,
            strategy=strategy_for(driver_name(host), repo.settings.compare_overrides()),
        )
    return Prepared(
        hosts=hosts,
        jobs=jobs,
        no_timer=tuple(no_timer),
        unknown_drivers=tuple(unknown),
        settle_timeout=settle_timeout,
        settle_interval=policy.settle_interval
        if options.settle_interval is None
        else options.settle_interval,
        workers=options.workers or policy.workers,
        soak=soak,
        notes=(f"--plan: {plan_note}",) if plan_note else (),
    )
