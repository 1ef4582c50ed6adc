"""Scheduled verification: ``verify`` (drift and expectations, for cron and CI) and ``show-running``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from netimmutable.cli.common import (
    CliExit,
    cluster_option,
    err_console,
    filter_option,
    limit_option,
    out_console,
    parse_filters,
    parse_limit,
    repo_option,
)
from netimmutable.errors import InputError
from netimmutable.exitcodes import ExitCode

if TYPE_CHECKING:
    from netimmutable.repo import NetworkRepo
    from netimmutable.verify_model import VerifyReport

__all__ = ["COMMANDS"]

_SUFFIX_FORMATS = {".json": "json", ".xml": "junit", ".txt": "text"}

VERIFY_EXIT_CODES = """\b
Exit codes:
  0  every selected host runs exactly its baseline (and meets its expectations)
  1  hosts could not be checked (unreachable, no baseline, errors), or bad input
  3  drift or failed expectations on at least one host (wins over 1)
Unreachable hosts do not count with --unreachable-ok (or verify.unreachable_is_failure: false),
hosts never deployed do not count with --allow-no-baseline; both are still reported.
"""


def _formats_for(outputs: tuple[Path, ...], fmt: str | None) -> list[tuple[str, Path | None]]:
    if not outputs:
        return [(fmt or "text", None)]
    result: list[tuple[str, Path | None]] = []
    for path in outputs:
        chosen = fmt or _SUFFIX_FORMATS.get(path.suffix.lower())
        if chosen is None:
            raise click.BadParameter(
                f"cannot tell the format of {path} from its suffix (.json, .xml, .txt): give --format",
                param_hint="--output",
            )
        result.append((chosen, path))
    return result


@click.command("verify", epilog=VERIFY_EXIT_CODES)
@click.option(
    "--against",
    "against",
    metavar="REV",
    default=None,
    help="Compare with the artifacts of this release instead of each host's last-good release.",
)
@click.option(
    "--expectations/--no-expectations",
    "-e",
    "expectations",
    default=True,
    help="Evaluate each host's expectations file of its release (NAPALM compliance_report) on the device "
    "when the release has one; a host in sync on config but failing them is expectations-failed. "
    "--no-expectations compares configs only (--expectations/-e, the old opt-in, is the default).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "junit"]),
    default=None,
    help="Report format (default: text; with --output, from the file suffix).",
)
@click.option(
    "--output",
    "-o",
    "outputs",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to FILE instead of stdout. Repeatable: verify.json and verify.xml "
    "in one run give JSON and JUnit.",
)
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=None,
    help="Hosts verified in parallel (default: verify.workers of netimmutable.yaml).",
)
@click.option(
    "--processes",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes to spread the hosts over (0: one per core for large fleets; 1: a single process).",
)
@click.option(
    "--unreachable-ok/--unreachable-fails",
    "unreachable_ok",
    default=None,
    help="Whether unreachable hosts make the run fail with exit 1 "
    "(default: verify.unreachable_is_failure, true).",
)
@click.option(
    "--allow-no-baseline",
    is_flag=True,
    help="Hosts never deployed (no last-good release) do not make the run fail.",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress; text lists only hosts that are not in sync, and prints nothing when all are.",
)
@cluster_option
@limit_option
@filter_option
@repo_option
def verify_command(
    against: str | None,
    expectations: bool,
    fmt: str | None,
    outputs: tuple[Path, ...],
    workers: int | None,
    processes: int,
    unreachable_ok: bool | None,
    allow_no_baseline: bool,
    quiet: bool,
    cluster: str | None,
    limit: str | None,
    filters: tuple[str, ...],
    repo_path: Path | None,
) -> None:
    """Check that each device runs exactly its committed configuration (drift), for scheduled jobs.

    Each host is compared with the artifact of its last-good release (or of --against REV) after
    normalization (volatile lines, whitespace, order noise, ignore_lines); digests first, a diff only for
    mismatches. Each host ends in one state: in-sync, drift, expectations-failed, unreachable,
    no-baseline or error. With compliance.features in netimmutable.yaml, each compared host's report also
    says which features (e.g. bgp, interfaces) are compliant and which drifted, with their lines (one JUnit
    testcase per feature). The outcome per host is kept in .netimmutable/verify-state.json for `status`.
    Nothing on the devices is changed. With --cluster (or cluster.address), each host's device steps run
    on a Dask cluster's workers and the report names the worker of each host (docs/scale.md).

    \b
    Examples:
      netimmutable verify                                   # all hosts, text report
      netimmutable verify --limit r1,r2                     # config and expectations of r1, r2
      netimmutable verify --no-expectations                 # configs only (no state getters)
      netimmutable verify --quiet                           # cron: output only when something is wrong
      netimmutable verify -o verify.json -o verify.xml      # CI: JSON artifact + JUnit test report
      netimmutable verify --format junit --unreachable-ok
      netimmutable verify --against v42 --filter groups=edge
      netimmutable verify --cluster tcp://10.0.0.5:8786 -o verify.json   # device work on Dask workers
    """
    from netimmutable.cluster import cluster_options
    from netimmutable.inventory import load_inventory, select_hosts
    from netimmutable.repo import open_repo
    from netimmutable.verify import VerifyOptions, run_verify
    from netimmutable.verify_model import VerifyPolicy

    targets = _formats_for(outputs, fmt)
    repo = open_repo(repo_path)
    loaded = load_inventory(repo)
    hosts = select_hosts(loaded, parse_limit(limit), parse_filters(filters))
    if not hosts:
        raise InputError("no hosts selected: --limit/--filter matched nothing", file=loaded.hosts_file)
    unreachable_fails = (
        repo.settings.verify.unreachable_is_failure if unreachable_ok is None else not unreachable_ok
    )
    options = VerifyOptions(
        against=against,
        expectations=expectations,
        workers=workers or repo.settings.verify.workers,
        processes=processes,
        cluster=cluster_options(repo.settings.cluster, cluster),
        policy=VerifyPolicy(
            unreachable_is_failure=unreachable_fails, no_baseline_is_failure=not allow_no_baseline
        ),
    )
    err = err_console()
    if quiet or not err.is_terminal:
        report = run_verify(repo, loaded, hosts, options)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (
            TextColumn("verify"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("", total=len(hosts))

            def advance(result: object) -> None:
                bar.update(task, advance=1, description=str(getattr(result, "host", "")))

            report = run_verify(repo, loaded, hosts, options, progress=advance)
    failed = _store_and_print(repo, report, targets, quiet)
    if outputs and not quiet:
        err.print(f"{report.summary()}; exit {int(report.exit_code)}", highlight=False, markup=False)
    for problem in failed:
        err.print(f"error: {problem}", highlight=False, markup=False)
    if report.exit_code != ExitCode.OK:
        raise CliExit(report.exit_code)
    if failed:
        err.print(
            f"exit {int(ExitCode.ERROR)}: the devices' verdict above holds, but not every output was written",
            highlight=False,
            markup=False,
        )
        raise CliExit(ExitCode.ERROR)


def _store_and_print(
    repo: NetworkRepo, report: VerifyReport, targets: Sequence[tuple[str, Path | None]], quiet: bool
) -> list[str]:
    """Store the last verify, print or write every requested report; what failed (a full disk, a read-only
    folder) is returned for the caller to say: one failing output never costs the others."""
    from netimmutable.fileio import atomic_write_text
    from netimmutable.verify_report import render
    from netimmutable.verify_state import record_report

    failed: list[str] = []
    try:
        record_report(repo, report)
    except OSError as exc:
        where = exc.filename or "verify-state.json"
        failed.append(f"the last verify could not be stored in {where}: {exc.strerror or exc}")
    for chosen, path in targets:
        if path is None:
            out = out_console()
            styled = chosen == "text" and out.is_terminal
            text = render(report, chosen, quiet=quiet, style=styled)
            if styled:
                out.print(text, end="", markup=True)  # to_text escaped every piece of data
            else:
                sys.stdout.write(text)
            continue
        try:
            atomic_write_text(path, render(report, chosen, quiet=False))
        except OSError as exc:
            failed.append(f"the {chosen} report could not be written to {path}: {exc.strerror or exc}")
    return failed


@click.command("show-running")
@click.argument("host")
@click.option("--normalized", is_flag=True, help="Show the normalized form (what verify compares).")
@repo_option
def show_running_command(host: str, normalized: bool, repo_path: Path | None) -> None:
    """Print HOST's running config with secrets masked, e.g. to adopt drift into templates/inventory.

    Nothing on the device changes. To keep an out-of-band change, put it into templates or inventory data,
    `netimmutable render`, and compare: `netimmutable verify --limit HOST` should show no drift against
    the new rendered config once it is released and deployed.

    \b
    Examples:
      netimmutable show-running r1
      netimmutable show-running r1 --normalized > /tmp/r1.running
      diff -u snapshots/r1.cfg /tmp/r1.running
    """
    from netimmutable.inventory import load_inventory, select_hosts
    from netimmutable.repo import open_repo
    from netimmutable.verify import read_running

    repo = open_repo(repo_path)
    loaded = load_inventory(repo)
    (selected,) = select_hosts(loaded, (host,))
    sys.stdout.write(read_running(repo, selected, normalized=normalized))


COMMANDS = [verify_command, show_running_command]
