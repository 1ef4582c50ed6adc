"""The change window on the command line: ``deploy``, ``rollback`` and ``demo``."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

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
from netimmutable.deploy_model import Confirm, DeployOptions, ProgressEvent, RunReport, WindowSummary
from netimmutable.errors import NotConfirmed
from netimmutable.exitcodes import ExitCode
from netimmutable.outcomes import HostOutcome
from netimmutable.repo import open_repo
from netimmutable.soak import SoakSetting, parse_soak

__all__ = ["COMMANDS", "ProgressView", "confirmer", "print_report", "stdin_is_terminal"]

DEPLOY_EXIT_CODES = """\b
Exit codes:
  0  every host deployed (or unchanged) and verified
  1  error, or a host refused/skipped/failed before any change (drift, plan, unreachable, rejected, Ctrl-C)
  4  a change failed and was put back, verified: rolled back, or reverted by the device's own timer
  5  a rollback failed or a device is UNKNOWN: a person must act
"""

_STYLE = {
    HostOutcome.DEPLOYED: "green",
    HostOutcome.UNCHANGED: "green",
    HostOutcome.SKIPPED: "yellow",
    HostOutcome.REFUSED: "yellow",
    HostOutcome.UNREACHABLE: "yellow",
    HostOutcome.FAILED: "yellow",
    HostOutcome.ROLLED_BACK: "bold yellow",
    HostOutcome.REVERTED: "bold yellow",
    HostOutcome.ROLLBACK_FAILED: "bold red",
    HostOutcome.UNKNOWN: "bold red",
}


def _paused(view: ProgressView, confirm: Confirm | None) -> Confirm | None:
    """``confirm`` asked with the live progress table stopped (a prompt under a live table is garbled)."""
    if confirm is None:
        return None

    def ask(summary: WindowSummary) -> bool:
        with view.paused():
            return confirm(summary)

    return ask


class ProgressView:
    """Live progress per host and phase: a rich table on a terminal, plain lines otherwise (thread-safe)."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        self.console = console
        self.live_enabled = console.is_terminal if live is None else live
        self.rows: dict[str, tuple[str, str, HostOutcome | None]] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __enter__(self) -> ProgressView:
        if self.live_enabled:
            self._live = Live(self._table(), console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        live = self._live
        if live is not None:
            live.stop()
        try:
            yield
        finally:
            if live is not None:
                live.start()

    def _table(self) -> Group:
        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        table.add_column("host")
        table.add_column("phase")
        table.add_column("")
        for host, (phase, message, outcome) in sorted(self.rows.items()):
            style = _STYLE.get(outcome, "") if outcome else "cyan"
            table.add_row(host, Text(outcome.value if outcome else phase, style=style), Text(message))
        return Group(table)

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            first = event.message.splitlines()[0] if event.message else ""
            if event.host is None:
                self.console.print(f"[bold]==[/] {escape(event.message)}", markup=True)
            elif self._live is not None:
                self.rows[event.host] = (event.phase.value, first, event.outcome)
                self._live.update(self._table())
            else:
                label = event.outcome.value if event.outcome else event.phase.value
                self.console.print(f"  {event.host}: {label}: {first}", soft_wrap=True, markup=False)


def print_report(report: RunReport, console: Console) -> None:
    """The human summary of a run: one line per host, details of every host that did not succeed."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    on_workers = any(h.worker for h in report.hosts)  # deploy --cluster: which worker ran each host
    for column in ("host", "outcome", "release", "time", *(("worker",) if on_workers else ()), "message"):
        table.add_column(column)
    for h in report.hosts:
        style = _STYLE.get(h.outcome, "")
        table.add_row(
            Text(h.host),
            Text(h.outcome.value, style=style),
            Text((h.release or "-")[:10]),
            Text(f"{h.seconds:.1f}s"),
            *((Text(h.worker or "-"),) if on_workers else ()),
            Text(h.message.splitlines()[0]),
        )
    console.print(table)
    for h in report.hosts:
        if h.outcome.ok or h.cause.stops_nothing:
            continue
        console.print(f"\n[bold]{escape(h.host)}[/] ({h.outcome.value}):", markup=True)
        console.print(escape(h.message), soft_wrap=True, markup=True)
        if h.drift:
            console.print("drift (last-good vs running):")
            console.print(escape(h.drift.rstrip()), soft_wrap=True, markup=True)
        if h.device_diff and (h.outcome.put_back or h.outcome.unsettled):
            console.print("the change that was pushed (device diff):")
            console.print(escape(h.device_diff.rstrip()), soft_wrap=True, markup=True)
    if report.stopped:
        console.print(f"\n[bold]window stopped:[/] {escape(report.stopped)}", markup=True)
    counts = ", ".join(f"{n} {o.value}" for o in HostOutcome if (n := report.count(o)))
    console.print(f"\nrun {report.run_id} ({report.kind}, {report.seconds:.1f}s): {counts}")
    if report.record_sha:
        console.print(f"recorded as {report.record_sha[:10]} (refs/netimmutable/runs)")
    if report.record_error:
        console.print(
            f"[bold red]the run record could not be written:[/] {escape(report.record_error)}", markup=True
        )
    code = report.exit_code
    if code == ExitCode.ROLLED_BACK:
        console.print(
            "[bold yellow]verification failed; affected hosts were rolled back and verified[/]", markup=True
        )
    elif code == ExitCode.ROLLBACK_FAILED:
        console.print("[bold red]a rollback failed or a device is UNKNOWN: a person must act[/]", markup=True)


class _SoakType(click.ParamType):  # type: ignore[type-arg]
    name = "soak"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> SoakSetting:
        try:
            return parse_soak(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SOAK = _SoakType()


def _common_window_options(func: Any) -> Any:
    options = [
        click.option(
            "--revert-in",
            type=click.IntRange(min=0),
            default=None,
            metavar="SECONDS",
            help="Device-side revert timer of each commit (0: none). Default: deploy.revert_in.",
        ),
        click.option(
            "--settle-timeout",
            type=click.FloatRange(min=0),
            default=None,
            metavar="SECONDS",
            help="How long post-checks keep polling. Default: deploy.settle_timeout.",
        ),
        click.option(
            "--soak",
            type=SOAK,
            default=None,
            metavar="SECONDS|auto",
            help="How long the post-checks must keep passing after they first pass, before the confirm "
            "(auto: the host's largest BGP hold time + 2s; 0: no soak). Default: deploy.soak.",
        ),
        click.option(
            "--settle-interval",
            type=click.FloatRange(min=0),
            default=None,
            metavar="SECONDS",
            help="Seconds between post-check rounds. Default: deploy.settle_interval.",
        ),
        click.option("--workers", type=click.IntRange(min=1), default=None, help="Parallel hosts per batch."),
        format_option("text", "json"),
        repo_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def stdin_is_terminal() -> bool:
    """Whether a person can be asked (a seam for tests)."""
    return sys.stdin.isatty()


def confirmer(command: str, yes: bool) -> Confirm:
    """A question on the terminal showing what the window will do; with ``--yes`` the same summary, printed
    and taken as confirmed (a CI log shows what was intended); without a terminal, a refusal."""
    if yes:

        def tell(summary: WindowSummary) -> bool:
            console = err_console()
            for line in summary.lines():
                console.print(escape(line), soft_wrap=True)
            console.print(f"--yes: {command} without asking")
            return True

        return tell
    if not stdin_is_terminal():
        raise NotConfirmed(
            f"{command} changes devices and asks for a confirmation first, "
            "but there is no terminal to ask on",
            hint="pass --yes to go ahead without asking (scripts, CI jobs)",
        )

    def ask(summary: WindowSummary) -> bool:
        console = err_console()
        for line in summary.lines():
            console.print(escape(line), soft_wrap=True)
        return click.confirm(f"{command} now?", default=False, err=True)

    return ask


def _yes_option(func: Any) -> Any:
    return click.option(
        "-y",
        "--yes",
        is_flag=True,
        help="Do not ask for a confirmation (required without a terminal: scripts, CI).",
    )(func)


def _finish(report: RunReport, fmt: str, synced: RecordsSynced) -> None:
    if fmt == "json":
        emit_json(report.to_json())
    else:
        print_report(report, out_console())
    code = synced.exit_code(report.exit_code, report.record_sha)
    if code:
        raise CliExit(code)


@click.command("deploy", epilog=DEPLOY_EXIT_CODES)
@click.argument("rev", required=False)
@click.option(
    "--canary", default=None, metavar="N|HOSTS", help="First batch: N hosts or named hosts (0: none)."
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=None, help="Hosts per batch after the canary."
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=1),
    default=None,
    help="The window ends (as --on-failure says) once this many hosts failed.",
)
@click.option(
    "--on-failure",
    type=click.Choice(["stop", "rollback-all", "continue"]),
    default=None,
    help="When the failure budget is spent: stop; roll back every host deployed in this run; or go on.",
)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Refuse hosts that changed since this saved plan (`netimmutable plan --save FILE`).",
)
@click.option("--force-drift", is_flag=True, help="Push over unknown drift (recorded in the run record).")
@click.option("--allow-dirty", is_flag=True, help="Deploy with a dirty working tree (recorded).")
@click.option("--allow-stale", is_flag=True, help="Deploy although snapshots/ is stale (recorded).")
@click.option(
    "--allow-adjacent",
    is_flag=True,
    help="Let hosts that share a link or a BGP session change in the same batch (recorded).",
)
@click.option("-m", "--message", default=None, help="Commit message sent to devices that keep one.")
@cluster_option
@_yes_option
@limit_option
@filter_option
@_common_window_options
def deploy_command(
    rev: str | None,
    canary: str | None,
    batch_size: int | None,
    max_failures: int | None,
    on_failure: str | None,
    plan_file: str | None,
    force_drift: bool,
    allow_dirty: bool,
    allow_stale: bool,
    allow_adjacent: bool,
    message: str | None,
    cluster: str | None,
    yes: bool,
    limit: str | None,
    filters: tuple[str, ...],
    revert_in: int | None,
    settle_timeout: float | None,
    soak: SoakSetting | None,
    settle_interval: float | None,
    workers: int | None,
    fmt: str,
    repo_path: Path | None,
) -> None:
    """Push an approved release (default: HEAD, as for `plan`) in a change window.

    Per host: pre-checks (reachable, no unknown drift, plan unchanged, state captured), full replace with a
    device-side revert timer where the platform has one, post-checks (converged, expectations hold, no
    regression) that must keep holding through the soak (default: the host's largest BGP hold time + 2s),
    then confirm and record good, or roll back automatically and verify the rollback.
    The canary goes first; a canary failure stops the window before any other host is touched. Hosts that
    share a link or a BGP session and both change are put in different batches (--allow-adjacent: not).
    Ctrl-C: no new host starts; changed hosts finish their checks or roll back.
    With --cluster each host's steps run on a Dask worker (with the worker's own credentials and secrets),
    while this process keeps git, records, journal, locks and progress; a host whose worker dies mid-change
    ends unknown, its lock and journal kept for `netimmutable recover` (never run again blindly).
    On a terminal it shows what will happen (release, hosts and their changes, batches, hosts without a
    device-side revert timer) and asks first; --yes prints it and goes ahead; without a terminal --yes is
    required.

    \b
    Examples:
      netimmutable deploy
      netimmutable deploy HEAD --canary r1 --batch-size 5
      netimmutable deploy --plan plan.json --max-failures 2 --on-failure rollback-all --yes
      netimmutable deploy --limit r2 --revert-in 120 --format json --yes
      netimmutable deploy --soak 30 --yes  # checks must hold 30 s after they first pass
      netimmutable deploy --canary 0 --batch-size 20 --allow-adjacent --yes  # neighbours may change together
      netimmutable deploy --cluster tcp://10.0.0.5:8786 --yes  # host steps on Dask workers (docs/scale.md)
    """
    confirm = confirmer("deploy", yes)
    repo = open_repo(repo_path)
    options = DeployOptions(
        rev=rev,
        limit=parse_limit(limit),
        filters=parse_filters(filters),
        canary=canary,
        batch_size=batch_size,
        workers=workers,
        max_failures=max_failures,
        on_failure=on_failure,  # type: ignore[arg-type]  # click.Choice guarantees an OnFailure
        revert_in=revert_in,
        settle_timeout=settle_timeout,
        settle_interval=settle_interval,
        soak=soak,
        plan_file=plan_file,
        force_drift=force_drift,
        allow_dirty=allow_dirty,
        allow_stale=allow_stale,
        allow_adjacent=allow_adjacent,
        message=message,
        cluster=cluster,
    )
    from netimmutable.deploy import deploy

    with RecordsSynced(repo) as synced, ProgressView(err_console()) as view:
        report = deploy(repo, options, progress=view, confirm=_paused(view, confirm))
    _finish(report, fmt, synced)


@click.command("rollback", epilog=DEPLOY_EXIT_CODES)
@click.argument("hosts", nargs=-1, required=True)
@click.option(
    "--to", "to_rev", default=None, metavar="REV", help="Release to push (default: each host's last-good)."
)
@_yes_option
@_common_window_options
def rollback_command(
    hosts: tuple[str, ...],
    to_rev: str | None,
    yes: bool,
    revert_in: int | None,
    settle_timeout: float | None,
    soak: SoakSetting | None,
    settle_interval: float | None,
    workers: int | None,
    fmt: str,
    repo_path: Path | None,
) -> None:
    """Push each host's last-good release (or REV) through the same pipeline and checks as a deploy.

    Drift is shown, not refused (the host is expected to be off its last-good). When the pushed release
    fails its checks, the host goes back to the config it ran before this rollback (exit 4).

    Asks first on a terminal, as `deploy` does (--yes prints the summary and goes ahead; required without a
    terminal). The summary counts each host's lines against its running config.

    \b
    Examples:
      netimmutable rollback r2
      netimmutable rollback r1 r2 --to 3f2a9c1 --yes
      netimmutable rollback r2 --format json --yes
    """
    confirm = confirmer("rollback", yes)
    repo = open_repo(repo_path)
    options = DeployOptions(
        revert_in=revert_in,
        settle_timeout=settle_timeout,
        settle_interval=settle_interval,
        soak=soak,
        workers=workers,
    )
    from netimmutable.deploy import rollback

    with RecordsSynced(repo) as synced, ProgressView(err_console()) as view:
        report = rollback(repo, hosts, to_rev, options, progress=view, confirm=_paused(view, confirm))
    _finish(report, fmt, synced)


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Build the demo here (a new folder; default: a temporary one).",
)
@click.option("--keep", is_flag=True, help="Keep the demo folder and its simulated lab afterwards.")
def demo_command(directory: Path | None, keep: bool) -> None:
    """The whole story on simulated devices, no privileges, well under a minute.

    In a temporary folder: a network repo with the example network (four routers, eBGP ring), simulated
    devices, a first release, a plan, a good deploy, then a bad change (a wrong BGP remote-as) whose deploy
    fails its post-checks and is rolled back automatically; finally `status`.

    \b
    Examples:
      netimmutable demo
      netimmutable demo --dir /tmp/mynet --keep
    """
    from netimmutable.demo import run_demo

    ok = run_demo(directory, keep=keep)
    if not ok:
        raise CliExit(ExitCode.ERROR)


COMMANDS = [deploy_command, rollback_command, demo_command]
