"""``netimmutable adopt``: running devices become the first release, each host a verbatim template."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from netimmutable.cli.common import (
    CliExit,
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

__all__ = ["COMMANDS"]


@click.command("adopt")
@click.option(
    "--add-hosts",
    "add_hosts",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Devices the inventory does not list yet, as a Nornir hosts.yaml-style file (name: {hostname, "
    "platform, groups}) or a Nornir inventory folder (hosts.yaml, groups.yaml, defaults.yaml: platforms "
    "inherited from groups and defaults): they are added to inventory/hosts.yaml (with the groups the "
    "repository lacks, to groups.yaml) and adopted.",
)
@click.option(
    "--secrets-out",
    is_flag=True,
    help="Print the credentials found, once, as NETIMMUTABLE_SECRET_<NAME>=value lines on stdout, instead of "
    "writing them to the secrets_file of netimmutable.yaml.",
)
@click.option("-m", "--message", default=None, help="Commit message of the release.")
@format_option("text", "json")
@limit_option
@filter_option
@repo_option
def adopt_command(
    add_hosts: Path | None,
    secrets_out: bool,
    message: str | None,
    fmt: str,
    limit: str | None,
    filters: tuple[str, ...],
    repo_path: Path | None,
) -> None:
    """Bring running devices in: each running config becomes a verbatim per-host template, one release.

    For each selected host (by default: every host without a last-good release or a template of its own;
    hosts named with --limit that have one are refused): read the running config
    (nothing is pushed to any device), write templates/adopted/<host>.j2 with the credentials replaced by
    secret("<host>_<keyword>_<n>") (values go to the secrets store, never to git or output), select it with
    the host's `template` key, render and commit one release, then read each device again and record it
    good only when it still runs exactly that release. Later reviewed releases replace the verbatim
    templates with real ones, host by host.

    \b
    Examples:
      netimmutable adopt                                   # every host not managed yet
      netimmutable adopt --limit r1,r2 -m "adopt the core"
      netimmutable adopt --add-hosts new-sites.yaml        # devices not in the inventory yet
      netimmutable adopt --add-hosts ../old-nornir/inventory   # a Nornir inventory folder
      netimmutable adopt --secrets-out > adopted.env       # no secrets_file: print them once

    \b
    Exit codes:
      0  every selected host adopted and recorded good
      1  bad input, or a host could not be read (the others are adopted)
      3  a host changed between the read and the commit, or runs the release but fails its
         expectations: adopted in git, not recorded good
    """
    from netimmutable.adopt import AdoptOptions, adopt, report_json
    from netimmutable.records import HostOutcome
    from netimmutable.repo import open_repo
    from netimmutable.secrets import secret_variable

    if secrets_out and fmt == "json":
        raise click.UsageError(
            "--secrets-out prints environment lines on stdout: it cannot go with --format json"
        )
    repo = open_repo(repo_path)
    err = err_console()
    options = AdoptOptions(
        limit=tuple(parse_limit(limit)),
        filters=tuple(parse_filters(filters)),
        add_hosts=add_hosts,
        secrets_out=secrets_out,
        message=message,
    )
    report = adopt(repo, options, emit=lambda line: err.print(line, markup=False, highlight=False))
    if secrets_out and report.secret_values:
        # the one place a value is shown: stdout, for the operator to put into the secrets store
        sys.stdout.write("".join(f"{secret_variable(n)}={v}\n" for n, v in report.secret_values))
    if fmt == "json":
        emit_json(report_json(report))
    else:
        out = err if secrets_out else out_console()
        for h in report.hosts:
            out.print(f"{h.host:<12} {h.outcome!s:<12} {h.message}", markup=False, highlight=False)
            if h.secrets:
                where = report.secrets_file or "printed above as environment lines"
                out.print(
                    f"{'':<12} {h.secrets} credential(s) moved to the secrets store ({where})", markup=False
                )
            if h.expectations_off:
                out.print(
                    f"{'':<12} no expectations until templated: its platform's expectations do not render "
                    f"from its data ({h.expectations_off}); `expect_template: false` set in its data",
                    markup=False,
                    highlight=False,
                )
        if report.release:
            out.print(f"release {report.release[:10]}; run {report.run_id}", markup=False)
    outcomes = {h.outcome for h in report.hosts}
    if HostOutcome.REFUSED in outcomes or any(h.expectations == "failed" for h in report.hosts):
        raise CliExit(ExitCode.CHANGES)
    if outcomes - {HostOutcome.UNCHANGED}:
        raise CliExit(ExitCode.ERROR)


COMMANDS = [adopt_command]
