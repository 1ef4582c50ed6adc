"""Commands on the network repository itself: init, render, commit, diff."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import git

from netimmutable.artifacts import (
    commit_release,
    host_of,
    hosts_in,
    open_git,
    read_artifacts,
    resolve_release,
)
from netimmutable.cli.common import (
    CliExit,
    NetImmutableGroup,
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
from netimmutable.release_diff import HostDiff, diff_artifacts, format_json, format_markdown, format_text
from netimmutable.render import refresh_snapshots
from netimmutable.render_pool import POOL_MIN_HOSTS
from netimmutable.render_warnings import RenderWarning, render_warnings
from netimmutable.repo import NetworkRepo, open_repo
from netimmutable.scaffold import DEFAULT_EXAMPLE, EXAMPLES, init_repo

__all__ = ["COMMANDS"]

_ = NetImmutableGroup  # commands are attached to the main group, which maps errors to exit codes


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--example",
    "example",
    is_flag=False,
    flag_value=DEFAULT_EXAMPLE,
    default=None,
    type=click.Choice(sorted(EXAMPLES)),
    help="Start from an example: `network` (the default: four FRR routers in an eBGP ring) or `multivendor` "
    "(an FRR hub peering with EOS, Junos, IOS-XR, NX-OS and IOS routers).",
)
def init_command(directory: Path, example: str | None) -> None:
    """Create a network repository in DIRECTORY: settings, inventory/, templates/, snapshots/, git.

    \b
    Examples:
      netimmutable init mynet --example
      netimmutable init mynet --example multivendor
      netimmutable init /srv/network
    """
    root = init_repo(directory, example=example or False)
    described = {
        DEFAULT_EXAMPLE: " with the example network",
        "multivendor": " with the multi-vendor example",
    }
    out_console().print(f"created network repository {root}" + described.get(example or "", ""))
    out_console().print(
        f"next: cd {directory} && netimmutable render && netimmutable commit -m 'first release'"
    )


def _processes_option(func: Any) -> Any:
    return click.option(
        "--processes",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Worker processes that parse hosts.yaml and render the hosts that changed (0: one per core; "
        f"1: this process only). Fewer than {POOL_MIN_HOSTS} hosts to render are rendered in this process "
        "anyway. The output is the same whatever the number.",
    )(func)


def _print_warnings(warnings: tuple[RenderWarning, ...]) -> None:
    for warning in warnings:
        err_console().print(f"warning: {warning}")


@click.command("render")
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 3 when snapshots/ is stale, missing or orphaned."
)
@format_option("text", "json")
@limit_option
@filter_option
@_processes_option
@repo_option
def render_command(
    check: bool,
    fmt: str,
    limit: str | None,
    filters: tuple[str, ...],
    processes: int,
    repo_path: Path | None,
) -> None:
    """Render complete configs (and expectations) of hosts into snapshots/.

    Only hosts whose resolved data (after group and defaults inheritance) or whose templates (entry,
    includes, imports, macros) changed since the last render are rendered again, on every core; the
    others are taken from snapshots/ when their files are unchanged. Nothing is written when any selected
    host fails to render. With --check, nothing is written at all and the exit code says whether
    snapshots/ is current (for merge-request CI).

    \b
    Examples:
      netimmutable render
      netimmutable render --limit r1,r2
      netimmutable render --check            # exit 3 when stale
      netimmutable render --filter groups=edge --format json
      netimmutable render --processes 1      # one process (no worker processes)
    """
    repo = open_repo(repo_path)
    names, conditions = parse_limit(limit), parse_filters(filters)
    summary = refresh_snapshots(repo, names, conditions, write=not check, processes=processes)
    warnings = render_warnings(repo, summary.digests, names, conditions, summary.inventory)
    status, written = summary.status, summary.written
    if fmt == "json":
        emit_json(
            {
                "hosts": summary.hosts,
                "check": check,
                "current": status.current,
                "stale": list(status.stale),
                "missing": list(status.missing),
                "orphaned": list(status.orphaned),
                "written": written,
                "warnings": [w.to_json() for w in warnings],
            }
        )
    else:
        _print_warnings(warnings)
        out = out_console()
        if check:
            if status.current:
                out.print(f"snapshots are current ({summary.hosts} host(s))")
            else:
                for label, names_ in (
                    ("stale", status.stale),
                    ("missing", status.missing),
                    ("orphaned", status.orphaned),
                ):
                    for name in names_:
                        out.print(f"{label:<9} {repo.settings.snapshots_dir}/{name}")
                out.print("snapshots/ is not current: run `netimmutable render` and commit the result")
        else:
            out.print(f"rendered {summary.hosts} host(s); {written} file(s) changed")
    if check and not status.current:
        raise CliExit(ExitCode.CHANGES)


@click.command("commit")
@click.option("-m", "--message", default=None, help="Commit message (default: a summary of changed devices).")
@format_option("text", "json")
@_processes_option
@repo_option
def commit_command(message: str | None, fmt: str, processes: int, repo_path: Path | None) -> None:
    """Render every host and commit inputs and snapshots as one release.

    The render is `render`'s: only hosts whose resolved data or templates changed are rendered again.
    The commit holds netimmutable.yaml, inventory/, templates/ and snapshots/ changes, with trailers
    recording the tool version and a digest of all artifacts. Nothing is committed when nothing changed;
    other dirty files are left alone and listed.

    \b
    Examples:
      netimmutable commit -m "r2: add peer to r5"
      netimmutable commit --format json
      netimmutable commit --processes 2 -m "edge: new NTP servers"
    """
    repo = open_repo(repo_path)
    started = time.monotonic()
    summary = refresh_snapshots(repo, processes=processes)
    render_seconds = time.monotonic() - started
    warnings = render_warnings(repo, summary.digests, loaded=summary.inventory)
    with open_git(repo) as gitrepo:
        result = commit_release(repo, gitrepo, summary.digests, message, render_seconds)
    if fmt == "json":
        emit_json(
            {
                "release": result.release.sha if result.release else None,
                "digest": result.release.digest if result.release else None,
                "changed_files": list(result.changed_files),
                "unrelated_dirty": list(result.unrelated_dirty),
                "warnings": [w.to_json() for w in warnings],
            }
        )
    else:
        _print_warnings(warnings)
        out = out_console()
        if result.release is None:
            out.print("nothing to commit: the release inputs and snapshots are unchanged")
        else:
            out.print(f"committed release {result.release.short}: {result.release.summary}")
            out.print(f"  {len(result.changed_files)} file(s) changed; digest {result.release.digest}")
        if result.unrelated_dirty:
            err_console().print(
                f"left alone ({len(result.unrelated_dirty)} unrelated change(s)): "
                + ", ".join(result.unrelated_dirty[:10])
            )


def _diff_since_deployed(
    repo: NetworkRepo, gitrepo: git.Repo, head: str, head_label: str, new: dict[str, str]
) -> tuple[HostDiff, ...]:
    """Per device: its last-good release vs ``head``; devices never deployed: the release before."""
    from netimmutable.records import Records
    from netimmutable.release_content import previous_release

    records = Records(repo, gitrepo)
    snap = repo.settings.snapshots_dir
    prev = previous_release(repo, gitrepo, head)
    cache: dict[str, dict[str, str]] = {}

    def artifacts_at(sha: str | None) -> dict[str, str]:
        if sha is None:
            return {}
        if sha not in cache:
            cache[sha] = read_artifacts(gitrepo, sha, snap)
        return cache[sha]

    hosts = (
        set(hosts_in(new))
        | set(records.good_hosts())
        | set(hosts_in(artifacts_at(prev.sha if prev else None)))
    )
    diffs: list[HostDiff] = []
    for host in sorted(hosts):
        good = records.last_good(host)
        base = good.release if good else (prev.sha if prev else None)
        old_files = {f: t for f, t in artifacts_at(base).items() if host_of(f) == host}
        new_files = {f: t for f, t in new.items() if host_of(f) == host}
        diffs.extend(diff_artifacts(old_files, new_files, base[:10] if base else "(none)", head_label))
    return tuple(diffs)


def _colour_diff(text: str) -> str:
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            lines.append(click.style(line, bold=True))
        elif line.startswith("+"):
            lines.append(click.style(line, fg="green"))
        elif line.startswith("-"):
            lines.append(click.style(line, fg="red"))
        elif line.startswith("@@"):
            lines.append(click.style(line, fg="cyan"))
        elif line.startswith("==="):
            lines.append(click.style(line, bold=True))
        else:
            lines.append(line)
    return "".join(lines)


@click.command("diff")
@click.argument("rev_a", required=False)
@click.argument("rev_b", required=False)
@format_option("text", "markdown", "json")
@click.option("--exit-code", is_flag=True, help="Exit 3 when any device differs.")
@limit_option
@repo_option
def diff_command(
    rev_a: str | None, rev_b: str | None, fmt: str, exit_code: bool, limit: str | None, repo_path: Path | None
) -> None:
    """Per-device diffs of rendered configs between two revisions.

    With no revisions: per device, the release last deployed on it (its last-good record) vs HEAD;
    devices never deployed compare with the release before HEAD (the newest earlier commit whose
    snapshots are what its inputs render, however it was made). With A only: A vs HEAD.
    Markdown output is ready to paste as a merge-request comment (a summary table and one
    collapsible section per device).

    \b
    Examples:
      netimmutable diff                          # last deployed (per device) vs HEAD
      netimmutable diff main HEAD --format markdown
      netimmutable diff v1 v2 --limit r2 --format json
    """
    repo = open_repo(repo_path)
    gitrepo = open_git(repo)
    b = resolve_release(gitrepo, rev_b or "HEAD")
    snap = repo.settings.snapshots_dir
    new = read_artifacts(gitrepo, b.sha, snap)
    if rev_a is None and rev_b is None:
        diffs = _diff_since_deployed(repo, gitrepo, b.sha, b.short, new)
        a_label = "last deployed"
    else:
        if rev_a is None:
            from netimmutable.release_content import previous_release

            prev = previous_release(repo, gitrepo, b.sha)
            a_sha = prev.sha if prev else None
        else:
            a_sha = resolve_release(gitrepo, rev_a).sha
        old = read_artifacts(gitrepo, a_sha, snap) if a_sha else {}
        diffs = diff_artifacts(old, new, a_sha[:10] if a_sha else "(none)", b.short)
        a_label = a_sha[:10] if a_sha else "(no earlier release)"
    names = set(parse_limit(limit))
    if names:
        diffs = tuple(d for d in diffs if d.host in names)
    if fmt == "json":
        click.echo(format_json(diffs, a_label, b.short), nl=False)
    elif fmt == "markdown":
        click.echo(format_markdown(diffs, a_label, b.short), nl=False)
    else:
        text = format_text(diffs, a_label, b.short)
        click.echo(_colour_diff(text), nl=False)
    if exit_code and diffs:
        raise CliExit(ExitCode.CHANGES)


COMMANDS = [init_command, render_command, commit_command, diff_command]
