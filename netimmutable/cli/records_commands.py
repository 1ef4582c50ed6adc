"""Planning and what happened: ``plan``, ``status``, ``history``, ``recover``, ``unlock``, ``records``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from netimmutable.cli.common import (
    CliExit,
    RecordsSynced,
    cluster_option,
    emit_json,
    err_console,
    filter_option,
    format_option,
    limit_option,
    out_console,
    parse_filters,
    parse_limit,
    repo_option,
)
from netimmutable.exitcodes import ExitCode

if TYPE_CHECKING:
    from netimmutable.journal import UnfinishedRun
    from netimmutable.recover import RecoveryReport

__all__ = ["COMMANDS"]

PLAN_EXIT_CODES = """\b
Exit codes:
  0  every selected device already runs the release
  1  a device is unreachable or failed (wins over 3)
  3  at least one device would change
"""

RECOVER_EXIT_CODES = """\b
Exit codes:
  0  nothing to recover, or every in-flight device deployed (verified again, then confirmed) or
     reverted (found back on its last-good config, verified)
  1  error (bad input, git failure, the repository lock is held)
  4  a device was rolled back to its last-good config (verified)
  5  a device is unknown or its rollback failed: a person must act (its lock is kept)
"""


# ------------------------------------------------------------------------------------------------ plan
@click.command("plan", epilog=PLAN_EXIT_CODES)
@click.argument("rev", required=False)
@format_option("text", "markdown", "json")
@click.option(
    "--save",
    "save",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the plan to FILE (JSON) for `deploy --plan FILE`.",
)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Devices planned in parallel.")
@cluster_option
@limit_option
@filter_option
@repo_option
def plan_command(
    rev: str | None,
    fmt: str,
    save: Path | None,
    workers: int | None,
    cluster: str | None,
    limit: str | None,
    filters: tuple[str, ...],
    repo_path: Path | None,
) -> None:
    """Each device's own diff of release REV (default HEAD) against its running config.

    The release's config is loaded as a full-replace candidate, compared and ALWAYS discarded: nothing
    is committed. With --save, the plan records the release and, per device, digests of its running
    config and of its diff, so `deploy --plan FILE` refuses any device that changed since the review.
    With --cluster (or cluster.address), each device is planned on a Dask cluster's workers and the plan
    names the worker of each (docs/scale.md).

    \b
    Examples:
      netimmutable plan
      netimmutable plan --cluster tcp://10.0.0.5:8786 --format json
      netimmutable plan HEAD --format markdown > plan.md
      netimmutable plan --limit r1,r2 --save plan.json
      netimmutable deploy --plan plan.json
    """
    from netimmutable.artifacts import open_git, resolve_release, snapshot_ids
    from netimmutable.cluster import Cluster, cluster_options
    from netimmutable.connections import prepare_hosts
    from netimmutable.inventory import load_inventory, select_hosts
    from netimmutable.plan import format_plan, make_plan, save_plan
    from netimmutable.records import Records, utc_now
    from netimmutable.repo import open_repo
    from netimmutable.secrets import Secrets

    repo = open_repo(repo_path)
    options = cluster_options(repo.settings.cluster, cluster)
    on_cluster = Cluster.connect(options) if options is not None else None  # fails fast, before anything
    if on_cluster is not None:
        click.get_current_context().call_on_close(on_cluster.close)
    gitrepo = open_git(repo)
    release = resolve_release(gitrepo, rev or "HEAD")
    loaded = load_inventory(repo)
    hosts = select_hosts(loaded, parse_limit(limit), parse_filters(filters))
    records = Records(repo, gitrepo)
    artifacts = {h.name: records.artifact(release.sha, h.name) for h in hosts}
    secrets = Secrets(repo)
    secrets.require(a for a in artifacts.values() if a)  # a missing secret stops before any device
    prepare_hosts(repo, hosts)
    from netimmutable.deploy_gate import deploy_refusals

    for why in deploy_refusals(repo, gitrepo, release.sha):  # plan still runs: the devices' diffs help review
        click.echo(f"warning: deploy would refuse release {release.short}: {why}", err=True)
    err_console().print(f"planning release {release.short} on {len(hosts)} device(s)...")
    plan = make_plan(
        release.sha,
        release.summary,
        artifacts,
        hosts,
        loaded,
        workers=workers or repo.settings.deploy.workers,
        resolve=secrets.resolve,
        secrets=secrets.resolved,
        extra=repo.settings.ignore_lines,
        operator=records.operator(),
        created_utc=utc_now(),
        cluster=on_cluster,
    )
    tree, ids = snapshot_ids(gitrepo, release.sha, repo.settings.snapshots_dir)
    plan = replace(plan, snapshots_tree=tree, artifacts=tuple(sorted(ids.items())))
    click.echo(format_plan(plan, fmt), nl=False)
    if save is not None:
        save_plan(plan, save)
        err_console().print(f"plan saved to {save}: deploy it with `netimmutable deploy --plan {save}`")
    if plan.exit_code != ExitCode.OK:
        raise CliExit(plan.exit_code)


# ---------------------------------------------------------------------------------------------- status
def _short(sha: str | None) -> str:
    return sha[:10] if sha else "-"


@click.command("status")
@format_option("text", "json")
@limit_option
@filter_option
@repo_option
def status_command(fmt: str, limit: str | None, filters: tuple[str, ...], repo_path: Path | None) -> None:
    """Every device: last-good release (when, by whom), last run outcome, last verification.

    Devices that are locked or in flight in an unfinished run are flagged.

    \b
    Examples:
      netimmutable status
      netimmutable status --limit r1 --format json
    """
    from netimmutable.artifacts import open_git
    from netimmutable.errors import CorruptRecords
    from netimmutable.inventory import load_inventory, select_hosts
    from netimmutable.journal import unfinished
    from netimmutable.locks import list_locks
    from netimmutable.records import Records
    from netimmutable.repo import open_repo
    from netimmutable.verify_state import read_verify_state

    repo = open_repo(repo_path)
    records = Records(repo, open_git(repo))
    loaded = load_inventory(repo)
    names = [h.name for h in select_hosts(loaded, parse_limit(limit), parse_filters(filters))]
    if not limit and not filters:
        names = sorted(set(names) | set(records.good_hosts()))
    verify_state = read_verify_state(repo)
    locked = {
        held.info.name.removeprefix("device-"): held.info
        for held in list_locks(repo)
        if held.info is not None and held.info.name.startswith("device-")
    }
    in_flight = {f.host: f.run_id for f in unfinished(repo)}
    rows: list[dict[str, Any]] = []
    for name in names:
        problem = None
        try:
            good = records.last_good(name)
        except CorruptRecords as exc:  # one host's broken ref: its row says so, the others are shown
            if exc.host != name:  # the good-log itself: nothing can be said of any host
                raise
            where = f"{exc.file}: " if exc.file else ""
            good, problem = None, f"{where}{exc.message}" + (f" ({exc.hint})" if exc.hint else "")
        last = records.last_run_of(name)
        verified = verify_state.get(name)
        lock = locked.get(name)
        rows.append(
            {
                "host": name,
                "in_inventory": name in loaded.inventory.hosts,
                "last_good": None
                if good is None
                else {
                    "release": good.release,
                    "when_utc": good.when_utc,
                    "operator": good.operator,
                    "run_id": good.run_id,
                    "on_approval_branch": records.release_on_branch(good.release),
                },
                "last_run": None
                if last is None
                else {
                    "run_id": last[0].run_id,
                    "kind": last[0].kind,
                    "ended_utc": last[0].ended_utc,
                    "outcome": str(last[1].outcome),
                    "cause": last[1].cause.value,
                    "message": last[1].message,
                },
                "last_verify": None
                if verified is None
                else {"when_utc": verified.when_utc, "state": verified.state, "release": verified.release},
                "lock": None
                if lock is None
                else {"run_id": lock.run_id, "stale": lock.stale, "kept": lock.kept},
                "in_flight_run": in_flight.get(name),
                "records_error": problem,
            }
        )
    if fmt == "json":
        emit_json({"schema": "netimmutable.status/1", "hosts": rows})
    else:
        _print_status(rows)
    corrupt = [row for row in rows if row["records_error"]]
    for row in corrupt:  # the other hosts' rows are shown; the run still fails
        err_console().print(f"error: {row['host']}: {row['records_error']}", markup=False, highlight=False)
    if corrupt:
        raise CliExit(ExitCode.ERROR)


def _print_status(rows: list[dict[str, Any]]) -> None:
    from netimmutable.approval import SHALLOW_HINT

    out = out_console()
    out.print(f"{'host':<16} {'last good':<11} {'since (UTC)':<21} {'by':<22} {'last run':<16} verify")
    for row in rows:
        good, last, ver = row["last_good"], row["last_run"], row["last_verify"]
        flags = []
        if good and good["on_approval_branch"] is None:
            flags.append(f"release not proven on the approval branch: {SHALLOW_HINT}")
        elif good and not good["on_approval_branch"]:
            flags.append("release not on the approval branch any more (kept by the records)")
        if row["lock"]:
            flags.append(
                "LOCKED" + (" (stale)" if row["lock"]["stale"] else f" by run {row['lock']['run_id']}")
            )
        if row["in_flight_run"]:
            flags.append(f"IN FLIGHT in run {row['in_flight_run']}: run `netimmutable recover`")
        if not row["in_inventory"]:
            flags.append("not in the inventory")
        if row["records_error"]:
            flags.append(f"RECORDS CORRUPT: {row['records_error']}")
        out.print(
            f"{row['host']:<16} {_short(good['release']) if good else 'never':<11} "
            f"{good['when_utc'] if good else '-':<21} {(good['operator'] if good else '-')[:22]:<22} "
            f"{last['outcome'] if last else '-':<16} "
            + (f"{ver['state']} at {ver['when_utc']}" if ver else "never verified"),
            markup=False,
        )
        for flag in flags:
            out.print(f"{'':<16} ! {flag}", markup=False)


# --------------------------------------------------------------------------------------------- history
@click.command("history")
@click.argument("host", required=False)
@click.option("-n", "--max-count", "count", type=click.IntRange(min=1), default=20, show_default=True)
@format_option("text", "json")
@repo_option
def history_command(host: str | None, count: int, fmt: str, repo_path: Path | None) -> None:
    """Runs (deploy, rollback, recover), newest first; with HOST, only runs that touched it.

    \b
    Examples:
      netimmutable history
      netimmutable history r2 -n 5
      netimmutable history --format json
    """
    from netimmutable.artifacts import open_git
    from netimmutable.records import Records
    from netimmutable.repo import open_repo

    repo = open_repo(repo_path)
    runs = Records(repo, open_git(repo)).runs(host, limit=count)
    if fmt == "json":
        data = []
        for run in runs:
            item = run.to_json()
            item["record"] = run.record_sha
            if host:
                item["hosts"] = [h for h in item["hosts"] if h["host"] == host]
            data.append(item)
        emit_json({"schema": "netimmutable.history/1", "runs": data})
        return
    out = out_console()
    if not runs:
        out.print("no runs recorded" + (f" for {host}" if host else ""), markup=False)
        return
    for run in runs:
        out.print(
            f"{run.run_id}  {run.kind:<8} release {_short(run.release)}  "
            f"{run.started_utc} -> {run.ended_utc}  {run.operator}  {run.outcome or '-'}",
            markup=False,
        )
        if run.flags:
            out.print(f"    flags: {' '.join(run.flags)}", markup=False)
        for record in run.hosts:
            if host is None or record.host == host:
                out.print(f"    {record.host:<16} {record.outcome!s:<16} {record.message}", markup=False)


def _print_unfinished(pending: Sequence[UnfinishedRun], fmt: str) -> None:
    if fmt == "json":
        runs = [
            {
                "run_id": r.run_id,
                "kind": r.kind,
                "user": r.user,
                "pid": r.pid,
                "alive": r.alive,
                "hosts": [{"host": h.host, "steps": list(h.steps)} for h in r.hosts],
            }
            for r in pending
        ]
        emit_json({"runs": runs})
        return
    out = out_console()
    if not pending:
        out.print("no unfinished runs")
    for r in pending:
        state = "still running" if r.alive else "stopped"
        out.print(f"run {r.run_id} ({r.kind}) of {r.user}, pid {r.pid}: {state}", markup=False)
        for h in r.hosts:
            out.print(f"    {h.host:<16} steps: {' -> '.join(h.steps)}", markup=False)


def _print_recovery(report: RecoveryReport, fmt: str) -> None:
    if fmt == "json":
        hosts = [
            {
                "run_id": h.run_id,
                "host": h.host,
                "outcome": str(h.outcome),
                "cause": h.cause.value,
                "message": h.message,
                "instructions": h.instructions,
            }
            for h in report.hosts
        ]
        emit_json(
            {
                "recover_run": report.recover_run,
                "runs": list(report.runs),
                "closed_runs": list(report.closed_runs),
                "record": report.record_sha,
                "hosts": hosts,
            }
        )
        return
    out = out_console()
    if not report.runs:
        out.print("nothing to recover: no unfinished runs")
        return
    for h in report.hosts:
        out.print(f"{h.host:<16} {h.outcome!s:<15} {h.message}", markup=False)
        if h.instructions:
            out.print(f"{'':<16} next: {h.instructions.replace('HOST', h.host)}", markup=False)
    if report.closed_runs:
        out.print(f"finished run(s): {', '.join(report.closed_runs)}", markup=False)


# --------------------------------------------------------------------------------------------- recover
@click.command("recover", epilog=RECOVER_EXIT_CODES)
@click.option("--list", "list_only", is_flag=True, help="Only show unfinished runs; touch no device.")
@click.option(
    "--forget",
    "forget_host",
    metavar="HOST",
    default=None,
    help="You checked HOST by hand: drop it from unfinished runs and remove its kept lock.",
)
@format_option("text", "json")
@limit_option
@repo_option
def recover_command(
    list_only: bool, forget_host: str | None, fmt: str, limit: str | None, repo_path: Path | None
) -> None:
    """Finish runs that stopped mid-change (killed, crashed, lost connection).

    Each device still in flight is inspected: on the new release and its post-checks pass -> confirmed
    and recorded good; on its last-good config -> left there (verified); anything the run may have
    caused -> rolled back to the last-good config and verified; otherwise UNKNOWN with instructions
    (its lock is kept). Every deploy checks for unfinished runs first and refuses to start.

    \b
    Examples:
      netimmutable recover --list
      netimmutable recover
      netimmutable recover --limit r2
      netimmutable recover --forget r2        # after checking r2 by hand
    """
    from netimmutable.artifacts import open_git
    from netimmutable.inventory import load_inventory
    from netimmutable.journal import unfinished_runs
    from netimmutable.leases import drop_leases, import_journals
    from netimmutable.records import operator_identity
    from netimmutable.recover import forget, recover
    from netimmutable.repo import open_repo

    repo = open_repo(repo_path)
    out = out_console()
    if forget_host:
        runs = forget(repo, forget_host, operator_identity())
        dropped = drop_leases(repo, forget_host, runs)  # other clones may change it again
        if fmt == "json":
            emit_json({"forgotten": forget_host, "runs": runs, "lease_dropped": dropped})
        else:
            out.print(f"{forget_host}: dropped from {len(runs)} unfinished run(s); its stale lock removed")
            if dropped:
                out.print(f"{forget_host}: its lease on the records remote removed")
        return
    if list_only:
        _print_unfinished(unfinished_runs(repo, include_alive=True), fmt)
        return
    gitrepo = open_git(repo)
    loaded = load_inventory(repo)
    err = err_console()
    with RecordsSynced(repo) as synced:
        expired = import_journals(repo, set(parse_limit(limit)))  # other clones' runs that stopped
        for run_id in expired.imported:
            err.print(f"run {run_id}: journal taken from its expired lease on the remote", markup=False)
        for host in expired.inspect:
            err.print(f"{host}: leased by a stopped run, not in its journal: inspected", markup=False)
        for host in expired.released:
            err.print(f"{host}: settled by its run; its expired lease removed", markup=False)
        report = recover(
            repo,
            gitrepo,
            loaded,
            hosts=set(parse_limit(limit)),
            progress=lambda m: err.print(m, markup=False, highlight=False),
        )
    _print_recovery(report, fmt)
    code = synced.exit_code(report.exit_code, report.record_sha)
    if code != ExitCode.OK:
        raise CliExit(code)


# ---------------------------------------------------------------------------------------------- unlock
@click.command("unlock")
@click.argument("names", nargs=-1, metavar="[HOST|repo]...")
@click.option("--force", is_flag=True, help="Also remove locks from other machines or kept on purpose.")
@repo_option
def unlock_command(names: tuple[str, ...], force: bool, repo_path: Path | None) -> None:
    """List locks, or remove stale ones (a lock whose process is gone).

    A live lock of this machine is never removed. Run `netimmutable recover` first: a stopped run may
    have left a device mid-change, and recover releases that run's locks itself when it is done.

    \b
    Examples:
      netimmutable unlock                    # list locks and whether they are stale
      netimmutable unlock r2                 # remove r2's stale device lock
      netimmutable unlock repo               # remove the repository's stale lock
    """
    from netimmutable.journal import unfinished_runs
    from netimmutable.locks import list_locks, lock_path, read_lock, remove_lock
    from netimmutable.recover import UnfinishedRunError
    from netimmutable.repo import open_repo

    repo = open_repo(repo_path)
    out = out_console()
    if not names:
        held = list_locks(repo)
        if not held:
            out.print("no locks held")
        for item in held:
            state = "unreadable" if item.info is None else ("STALE" if item.stale else "held")
            text = item.info.describe() if item.info else str(item.path)
            out.print(f"{state:<10} {text}", markup=False)
        return
    busy = {r.run_id for r in unfinished_runs(repo) if r.hosts}
    for name in names:
        if not force:
            info = read_lock(lock_path(repo, name))
            if info is not None and info.run_id in busy:
                raise UnfinishedRunError(
                    f"the lock {name} belongs to run {info.run_id}, which stopped mid-change",
                    hint="`netimmutable recover` settles the devices and releases the lock",
                )
        info = remove_lock(repo, name, force=force)
        out.print(f"removed lock {name}" + (f" ({info.describe()})" if info else ""), markup=False)


# --------------------------------------------------------------------------------------------- records
@click.group("records")
def records_group() -> None:
    """Share deployment records (refs/netimmutable/*) with a git remote.

    \b
    Examples:
      netimmutable records push origin
      netimmutable records fetch origin
    """


@records_group.command("push")
@click.argument("remote", default="origin")
@repo_option
def records_push(remote: str, repo_path: Path | None) -> None:
    """Push the records to REMOTE (fetch first when the remote has newer records)."""
    from netimmutable.artifacts import open_git
    from netimmutable.records import Records
    from netimmutable.repo import open_repo

    repo = open_repo(repo_path)
    Records(repo, open_git(repo)).push_records(remote)
    out_console().print(f"records pushed to {remote}", markup=False)


@records_group.command("fetch")
@click.argument("remote", default="origin")
@repo_option
def records_fetch(remote: str, repo_path: Path | None) -> None:
    """Fetch REMOTE's records and merge them with the local ones (no record is lost on either side).

    A remote's good mark moves the local good ref only when it points at an approved release (reachable
    from the approval branch, snapshots what its inputs render); others are listed and exit 1.
    """
    from netimmutable.artifacts import open_git
    from netimmutable.records import Records
    from netimmutable.repo import open_repo
    from netimmutable.trust import GoodTrust

    repo = open_repo(repo_path)
    gitrepo = open_git(repo)
    records = Records(repo, gitrepo)
    trust = GoodTrust(repo, gitrepo, records)
    refused: list[str] = []
    changed = records.fetch_records(remote, lambda _host, sha: trust.release_problem(sha), refused)
    out_console().print(
        f"records fetched from {remote}: " + (", ".join(changed) if changed else "already up to date"),
        markup=False,
    )
    for line in refused:
        err_console().print(f"refused: {line}", markup=False, soft_wrap=True)
    if refused:
        raise CliExit(ExitCode.ERROR)


COMMANDS = [plan_command, status_command, history_command, recover_command, unlock_command, records_group]
